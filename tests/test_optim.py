"""minicv.optim: updates against hand-written NumPy references over several steps, schedules
against their closed forms, gradient clipping, errors; torch cross-checks when torch is there."""
import math

import numpy as np
import pytest

from minicv import Tensor, nn, optim

STEPS = 5


def _problem(seed=0, dtype=np.float64):
    """Two parameters and a fixed sequence of gradients for them, one pair per step."""
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=4).astype(dtype)]
    grads = [[rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=4).astype(dtype)]
             for _ in range(STEPS)]
    return start, grads


def _run(make_optimizer, start, grads):
    params = [nn.Parameter(p.copy()) for p in start]
    optimizer = make_optimizer(params)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        optimizer.step()
        history.append([p.data.copy() for p in params])
    return history


# --- references, written from the formulas in the optim.py docstring ---------------------------
def _sgd_reference(start, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                   nesterov=False):
    params, bufs, history = [p.copy() for p in start], [None] * len(start), []
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            g = g + weight_decay * params[i]
            if momentum:
                bufs[i] = g.copy() if bufs[i] is None else \
                    momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            params[i] = params[i] - lr * g
        history.append([p.copy() for p in params])
    return history


def _adam_reference(start, grads, lr, betas, eps, weight_decay, decoupled, amsgrad=False):
    b1, b2 = betas
    params = [p.copy() for p in start]
    m = [np.zeros_like(p) for p in start]
    v = [np.zeros_like(p) for p in start]
    v_max = [np.zeros_like(p) for p in start]
    history = []
    for t, step_grads in enumerate(grads, start=1):
        for i, g in enumerate(step_grads):
            if decoupled:
                params[i] = params[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * params[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g ** 2
            v_max[i] = np.maximum(v_max[i], v[i])
            m_hat = m[i] / (1 - b1 ** t)
            v_hat = (v_max[i] if amsgrad else v[i]) / (1 - b2 ** t)
            params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append([p.copy() for p in params])
    return history


def _assert_histories_close(ours, reference, rtol=1e-12, atol=1e-14):
    for step, (a, b) in enumerate(zip(ours, reference)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"step {step + 1}, parameter {i}")


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=lambda k: ",".join(map(str, k.items())))
def test_sgd_matches_reference(kwargs):
    start, grads = _problem()
    ours = _run(lambda ps: optim.SGD(ps, **kwargs), start, grads)
    _assert_histories_close(ours, _sgd_reference(start, grads, **kwargs))


def test_sgd_first_steps_by_hand():
    # p = 1, g = 1 each step, lr 0.1, momentum 0.5: buffers 1, 1.5, 1.75 -> p 0.9, 0.75, 0.575
    p = nn.Parameter(np.array([1.0]))
    sgd = optim.SGD([p], lr=0.1, momentum=0.5)
    values = []
    for _ in range(3):
        p.grad = np.array([1.0])
        sgd.step()
        values.append(p.data[0])
    np.testing.assert_allclose(values, [0.9, 0.75, 0.575], rtol=1e-12)


ADAM_CASES = [
    dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    dict(lr=5e-2, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1),
    dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05, amsgrad=True),
]


@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=lambda k: ",".join(map(str, k.items())))
@pytest.mark.parametrize("cls, decoupled", [(optim.Adam, False), (optim.AdamW, True)])
def test_adam_and_adamw_match_reference(cls, decoupled, kwargs):
    start, grads = _problem(1)
    ours = _run(lambda ps: cls(ps, **kwargs), start, grads)
    _assert_histories_close(ours, _adam_reference(start, grads, decoupled=decoupled, **kwargs))


def test_adam_first_step_is_lr_times_sign():
    # after one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    p = nn.Parameter(np.array([1.0, 1.0]))
    p.grad = np.array([3.0, -0.02])
    optim.Adam([p], lr=0.1, eps=0.0).step()
    np.testing.assert_allclose(p.data, [0.9, 1.1], rtol=1e-12)


def test_adamw_default_weight_decay_differs_from_adam_l2():
    start, grads = _problem(2)
    adamw = _run(lambda ps: optim.AdamW(ps, lr=0.1), start, grads)
    adam_l2 = _run(lambda ps: optim.Adam(ps, lr=0.1, weight_decay=1e-2), start, grads)
    assert optim.AdamW([nn.Parameter(np.zeros(1))]).param_groups[0]["weight_decay"] == 1e-2
    assert not np.allclose(adamw[-1][0], adam_l2[-1][0], rtol=1e-6, atol=0)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: optim.Adam(ps, weight_decay=0.1),
    lambda ps: optim.AdamW(ps, amsgrad=True),
])
def test_float32_parameters_stay_float32(make):
    start, grads = _problem(3, dtype=np.float32)
    for step in _run(make, start, grads):
        assert [p.dtype for p in step] == [np.float32, np.float32]


def test_params_without_grad_are_skipped_and_zero_grad_clears():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    adam = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    adam.step()
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert b not in adam.state and adam.state[a]["step"] == 1
    adam.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_groups_have_their_own_hyperparameters():
    a, b = nn.Parameter(np.zeros(1)), nn.Parameter(np.zeros(1))
    sgd = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = np.ones(1), np.ones(1)
    sgd.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [-0.1, -1.0])


def test_step_runs_a_closure_and_a_real_backward():
    # minimise (w - 3)^2 with plain gradient descent: w_{t+1} = w_t - lr * 2 (w_t - 3)
    w = nn.Parameter(np.array([0.0]))
    sgd = optim.SGD([w], lr=0.25)

    def closure():
        sgd.zero_grad()
        loss = ((w - 3.0) * (w - 3.0)).sum()
        loss.backward()
        return loss

    losses = [sgd.step(closure).item() for _ in range(3)]
    np.testing.assert_allclose(losses, [9.0, 2.25, 0.5625])
    np.testing.assert_allclose(w.data, [2.625])
    assert w.grad_fn is None and not isinstance(w.data, Tensor)


@pytest.mark.parametrize("make, message", [
    (lambda ps: optim.SGD(ps, lr=-0.1), "SGD: lr must be >= 0, got -0.1"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-1), "SGD: momentum must be >= 0, got -1"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True),
     "SGD: nesterov needs momentum > 0 and dampening = 0, got momentum=0.0, dampening=0.0"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "SGD: nesterov needs momentum > 0 and dampening = 0"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), "SGD: weight_decay must be >= 0"),
    (lambda ps: optim.Adam(ps, lr=-1), "Adam: lr must be >= 0, got -1"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)),
     r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda ps: optim.AdamW(ps, betas=(0.9, -0.1)), r"AdamW: betas\[1\] must be in \[0, 1\)"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), "Adam: eps must be >= 0"),
    (lambda ps: optim.AdamW(ps, weight_decay=-1), "AdamW: weight_decay must be >= 0"),
    (lambda ps: optim.SGD([], lr=0.1), "SGD: got an empty parameter list"),
    (lambda ps: optim.SGD(ps + ps, lr=0.1), "SGD: a parameter appears in more than one group"),
])
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make([nn.Parameter(np.zeros(2))])


def test_non_tensors_and_non_leaves_are_refused():
    with pytest.raises(TypeError, match="SGD: parameters must be Tensors, got ndarray"):
        optim.SGD([np.zeros(2)], lr=0.1)
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match=r"Adam: cannot optimise a non-leaf tensor of shape "
                                         r"\(2,\)"):
        optim.Adam([p * 2])


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
])
def test_optimizer_state_dict_resumes_exactly(make):
    start, grads = _problem(4)
    straight = _run(make, start, grads)
    params = [nn.Parameter(p.copy()) for p in start]
    first = make(params)
    for step_grads in grads[:3]:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        first.step()
    saved = first.state_dict()
    assert saved["param_groups"][0]["params"] == [0, 1]
    resumed = make(params)                      # a fresh optimiser on the same parameters
    resumed.load_state_dict(saved)
    for step_grads in grads[3:]:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        resumed.step()
    for p, q in zip(params, straight[-1]):
        np.testing.assert_array_equal(p.data, q)
    with pytest.raises(ValueError, match="load_state_dict: group 0 has 2 parameters in the "
                                         "state but 1 in the optimiser"):
        make(params[:1]).load_state_dict(saved)


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------
def _lrs(scheduler, optimizer, epochs):
    seen = []
    for _ in range(epochs):
        seen.append(scheduler.get_last_lr()[0])
        assert optimizer.param_groups[0]["lr"] == seen[-1]
        optimizer.step()
        scheduler.step()
    return seen


def _sgd(lr=0.5):
    return optim.SGD([nn.Parameter(np.zeros(1))], lr=lr)


def test_step_lr_closed_form():
    opt = _sgd()
    got = _lrs(optim.StepLR(opt, step_size=3, gamma=0.5), opt, 10)
    np.testing.assert_allclose(got, [0.5 * 0.5 ** (e // 3) for e in range(10)], rtol=1e-15)
    with pytest.raises(ValueError, match="StepLR: step_size must be >= 1, got 0"):
        optim.StepLR(_sgd(), step_size=0)


def test_cosine_annealing_closed_form():
    opt = _sgd()
    got = _lrs(optim.CosineAnnealingLR(opt, T_max=8, eta_min=0.01), opt, 9)
    expected = [0.01 + (0.5 - 0.01) * (1 + math.cos(math.pi * e / 8)) / 2 for e in range(9)]
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert got[0] == 0.5 and abs(got[8] - 0.01) < 1e-15 and got[4] == pytest.approx(0.255)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be >= 1, got 0"):
        optim.CosineAnnealingLR(_sgd(), T_max=0)


def test_linear_warmup_and_lambda():
    opt = _sgd(1.0)
    got = _lrs(optim.LinearLR(opt, start_factor=0.25, total_iters=3), opt, 6)
    np.testing.assert_allclose(got, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0], rtol=1e-15)
    opt = _sgd(2.0)
    got = _lrs(optim.LambdaLR(opt, lambda e: 1 / (e + 1)), opt, 4)
    np.testing.assert_allclose(got, [2.0, 1.0, 2 / 3, 0.5], rtol=1e-15)
    with pytest.raises(ValueError, match="LinearLR: need 0 < start_factor <= 1"):
        optim.LinearLR(_sgd(), start_factor=0)


def test_schedule_scales_every_group_from_its_own_base():
    a, b = nn.Parameter(np.zeros(1)), nn.Parameter(np.zeros(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    np.testing.assert_allclose(sched.get_last_lr(), [0.05, 0.5])
    state = sched.state_dict()
    assert state["last_epoch"] == 1 and "optimizer" not in state


# ---------------------------------------------------------------------------------------------
# clip_grad_norm_
# ---------------------------------------------------------------------------------------------
def _with_grads(grads):
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = g.copy()
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_scales_to_max_norm(norm_type):
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=(3, 4)), rng.normal(size=5)]
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.linalg.norm(flat, ord=norm_type)
    params = _with_grads(grads)
    total = optim.clip_grad_norm_(params, max_norm=0.5, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-12)
    coef = 0.5 / (expected + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad, g * coef, rtol=1e-12)
    clipped = np.concatenate([p.grad.ravel() for p in params])
    assert np.linalg.norm(clipped, ord=norm_type) == pytest.approx(0.5, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    grads = [np.array([0.3, -0.4], dtype=np.float32)]
    params = _with_grads(grads)
    params.append(nn.Parameter(np.ones(3)))              # grad None: ignored
    assert optim.clip_grad_norm_(params, max_norm=1.0) == pytest.approx(0.5, rel=1e-6)
    np.testing.assert_array_equal(params[0].grad, grads[0])
    assert params[0].grad.dtype == np.float32
    assert optim.clip_grad_norm_([nn.Parameter(np.ones(2))], 1.0) == 0.0
    single = _with_grads([np.array([3.0, 4.0])])[0]
    assert optim.clip_grad_norm_(single, 1.0) == 5.0      # a single tensor works too


def test_clip_grad_norm_nonfinite():
    params = _with_grads([np.array([np.inf, 1.0])])
    with pytest.raises(ValueError, match="clip_grad_norm_: the total 2.0-norm of the gradients "
                                         "is inf"):
        optim.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="clip_grad_norm_: max_norm must be >= 0, got -1"):
        optim.clip_grad_norm_(params, -1)


# ---------------------------------------------------------------------------------------------
# Cross-check against PyTorch itself, when it is installed
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
])
def test_optimizers_agree_with_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    start, grads = _problem(6)
    ours = _run(lambda ps: getattr(optim, name)(ps, **kwargs), start, grads)
    params = [torch.tensor(p.copy(), requires_grad=True) for p in start]
    reference = getattr(torch.optim, name)(params, **kwargs)
    for step, step_grads in enumerate(grads):
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        reference.step()
        for a, p in zip(ours[step], params):
            np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-12, atol=1e-14)
