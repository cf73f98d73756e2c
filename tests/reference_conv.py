"""Slow, obviously correct loop versions of conv2d and conv_transpose2d (used only by tests).

Both follow the definitions literally, independently of each other and of minicv's matrix
formulation:

- conv2d_ref: every output pixel is a sum over its window (a gather).
- conv_transpose2d_ref: every input pixel adds a scaled copy of the kernel into the output
  (a scatter) -- the "painting" definition of the transposed convolution.

Notation as in minicv/functional/conv.py. All hyper-parameters are (height, width) pairs.
"""
import numpy as np


def conv2d_ref(x, weight, bias=None, stride=(1, 1), padding=(1, 1), dilation=(1, 1),
               groups=1, padding_after=None):
    """y[n, o, oh, ow] = b[o] + sum_{c, kh, kw} w[o, c, kh, kw] * x[n, c', ih, iw] with
    ih = oh*SH - PH + kh*DH, iw = ow*SW - PW + kw*DW (zero outside x), c' = g*C_in/G + c.

    ``padding_after`` (bottom, right) defaults to ``padding`` (symmetric padding)."""
    n, c_in, h, w = x.shape
    c_out, c_group, kh_, kw_ = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ph2, pw2 = padding if padding_after is None else padding_after
    oh_ = (h + ph + ph2 - dh * (kh_ - 1) - 1) // sh + 1
    ow_ = (w + pw + pw2 - dw * (kw_ - 1) - 1) // sw + 1
    out_group = c_out // groups
    y = np.zeros((n, c_out, oh_, ow_), dtype=np.float64)
    for b in range(n):
        for o in range(c_out):
            g = o // out_group
            for oh in range(oh_):
                for ow in range(ow_):
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(c_group):
                        for kh in range(kh_):
                            for kw in range(kw_):
                                ih = oh * sh - ph + kh * dh
                                iw = ow * sw - pw + kw * dw
                                if 0 <= ih < h and 0 <= iw < w:
                                    total += (float(weight[o, c, kh, kw])
                                              * float(x[b, g * c_group + c, ih, iw]))
                    y[b, o, oh, ow] = total
    return y


def conv_transpose2d_ref(x, weight, bias=None, stride=(1, 1), padding=(0, 0),
                         output_padding=(0, 0), groups=1, dilation=(1, 1)):
    """Each input pixel x[n, c, h, w] adds x[n, c, h, w] * w[c, o, kh, kw] to output pixel
    (h*SH - PH + kh*DH, w*SW - PW + kw*DW) of output channel g*C_out/G + o, when that pixel lies
    in the (OH, OW) output, OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + OPH + 1."""
    n, c_in, h, w = x.shape
    _, out_group, kh_, kw_ = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oph, opw = output_padding
    c_out = out_group * groups
    in_group = c_in // groups
    oh_ = (h - 1) * sh - 2 * ph + dh * (kh_ - 1) + oph + 1
    ow_ = (w - 1) * sw - 2 * pw + dw * (kw_ - 1) + opw + 1
    y = np.zeros((n, c_out, oh_, ow_), dtype=np.float64)
    for b in range(n):
        for c in range(c_in):
            g = c // in_group
            for i in range(h):
                for j in range(w):
                    for o in range(out_group):
                        for kh in range(kh_):
                            for kw in range(kw_):
                                oh = i * sh - ph + kh * dh
                                ow = j * sw - pw + kw * dw
                                if 0 <= oh < oh_ and 0 <= ow < ow_:
                                    y[b, g * out_group + o, oh, ow] += (
                                        float(x[b, c, i, j]) * float(weight[c, o, kh, kw]))
    if bias is not None:
        y += np.asarray(bias, dtype=np.float64).reshape(1, c_out, 1, 1)
    return y
