"""minicv.gradcheck: it passes correct backwards and -- the point of it -- catches wrong ones.

Every wrong backward here is wrong in a way a person really writes one: off by a constant
factor, a sign flipped on one element, a transposed gradient, a gradient forgotten. Each must
fail, in the full-Jacobian mode (small inputs) and in the directional mode (large inputs), with
a message that names the input, the place and the two values.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings

import minicv.functional as F
from minicv import Function, GradcheckError, GradcheckResult, Tensor, backend, gradcheck
from minicv.checks import run_case, strategy
from minicv.functional import arith
from minicv.gradcheck import numerical_grad

RNG = np.random.default_rng(1234)
A = RNG.uniform(0.5, 2.0, (3, 4)) * RNG.choice([-1.0, 1.0], (3, 4))   # |entries| >= 0.5
B = RNG.uniform(0.5, 2.0, (3, 4))
BIG_A = RNG.uniform(-2.0, 2.0, (30, 30))
BIG_B = RNG.uniform(0.5, 2.0, (30, 30))


def parse_failure(message):
    """(input index, place, analytic, numeric) from a GradcheckError message."""
    m = re.search(r"gradcheck failed for input (\d+) \(shape \(([\d, ]*)\)\) at "
                  r"(element \([\d, ]*\)|random direction \d+): analytic (\S+) vs numeric (\S+) ",
                  message)
    assert m, message
    return int(m.group(1)), m.group(3), float(m.group(4)), float(m.group(5))


class Mul(Function):
    """a * b with a backward that can be sabotaged: ``wrong(ga, gb) -> (ga, gb)``."""

    wrong = staticmethod(lambda ga, gb: (ga, gb))

    def forward(self, a, b):
        self.save(a=a, b=b)
        return a * b

    def backward(self, gy):
        # d(ab)/da = b, d(ab)/db = a
        return type(self).wrong(gy * self.saved.b, gy * self.saved.a)


def sabotaged(wrong):
    return type("SabotagedMul", (Mul,), {"wrong": staticmethod(wrong)}).apply


def flip_one(g, index=(1, 2)):
    g = g.copy()
    g[index] = -g[index]
    return g


# ---------------------------------------------------------------------------------------------
# Correct backwards pass
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, inputs", [
    (Mul.apply, [A, B]),
    (F.mul, [A, B]),
    (F.matmul, [A, B.T]),
    (lambda a, b: F.exp(a) * b - a / b, [A, B]),
    (F.exp, [0.3]),                                   # a Python number: a 0-d input
    (Mul.apply, [BIG_A, BIG_B]),                      # directional mode
])
def test_correct_backward_passes(fn, inputs):
    result = gradcheck(fn, inputs)
    assert isinstance(result, GradcheckResult) and result and result.passed
    assert result.worst_ratio <= 1 and result.message == ""
    assert result.checked == list(range(len(inputs)))


def test_float32_and_tensor_inputs_are_checked_in_float64():
    result = gradcheck(F.mul, [A.astype(np.float32), Tensor(B, requires_grad=True)])
    assert result.passed and result.checked == [0, 1]


def test_multi_output_function_is_checked_on_every_output():
    class TwoParts(Function):
        """(2 x[:2], x[2:]^2): two outputs with their own gradients."""

        second_factor = 1.0

        def forward(self, x):
            self.save(x=x)
            return x[:2] * 2, x[2:] ** 2

        def backward(self, g_first, g_second):
            xp = backend.get_array_module(g_first)
            x = self.saved.x
            return xp.concatenate([2 * g_first, self.second_factor * 2 * x[2:] * g_second])

    class WrongSecond(TwoParts):
        second_factor = -1.0

    x = RNG.uniform(0.5, 2.0, 5)
    assert gradcheck(TwoParts.apply, [x])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(5,\)\) at element \([234],\)"):
        gradcheck(WrongSecond.apply, [x])


# ---------------------------------------------------------------------------------------------
# THE KEY TESTS: wrong backwards fail, with a useful message
# ---------------------------------------------------------------------------------------------
def test_scaled_gradient_fails_full_mode():
    with pytest.raises(GradcheckError) as info:
        gradcheck(sabotaged(lambda ga, gb: (1.1 * ga, gb)), [A, B])
    index, place, analytic, numeric = parse_failure(str(info.value))
    assert index == 0 and place.startswith("element (")
    assert analytic == pytest.approx(1.1 * numeric, rel=1e-4)
    assert "(shape (3, 4))" in str(info.value)


def test_one_flipped_sign_is_found_at_its_element():
    with pytest.raises(GradcheckError) as info:
        gradcheck(sabotaged(lambda ga, gb: (ga, flip_one(gb))), [A, B])
    index, place, analytic, numeric = parse_failure(str(info.value))
    assert (index, place) == (1, "element (1, 2)")      # the only wrong entry is the worst
    assert analytic == pytest.approx(-numeric, rel=1e-4) and abs(numeric) > 1e-3


def test_transposed_gradient_fails():
    square_a, square_b = RNG.normal(size=(4, 4)), RNG.normal(size=(4, 4))
    with pytest.raises(GradcheckError, match=r"gradcheck failed for input 0 \(shape \(4, 4\)\)"):
        gradcheck(sabotaged(lambda ga, gb: (ga.T, gb)), [square_a, square_b])


@pytest.mark.parametrize("wrong, expected_ratio", [
    (lambda ga, gb: (1.1 * ga, gb), 1.1),
    (lambda ga, gb: (ga, gb), None),                    # the control: passes
])
def test_directional_mode(wrong, expected_ratio):
    fn = sabotaged(wrong)
    if expected_ratio is None:
        assert gradcheck(fn, [BIG_A, BIG_B], max_full=16)
        return
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, [BIG_A, BIG_B], max_full=16)
    index, place, analytic, numeric = parse_failure(str(info.value))
    assert index == 0 and re.fullmatch(r"random direction [0-2]", place)
    assert analytic == pytest.approx(expected_ratio * numeric, rel=1e-4)
    assert "(shape (30, 30))" in str(info.value)


def test_directional_mode_finds_one_flipped_element_of_900():
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(30, 30\)\) at random direction"):
        gradcheck(sabotaged(lambda ga, gb: (ga, flip_one(gb, (17, 4)))), [BIG_A, BIG_B],
                  max_full=16)


@pytest.mark.parametrize("seed", range(5))
def test_wrong_backward_fails_for_every_seed(seed):
    with pytest.raises(GradcheckError):
        gradcheck(sabotaged(lambda ga, gb: (ga, 0.9 * gb)), [A, B], seed=seed)
    with pytest.raises(GradcheckError):
        gradcheck(sabotaged(lambda ga, gb: (ga, 0.9 * gb)), [BIG_A, BIG_B], max_full=16,
                  seed=seed)


def test_forgotten_gradient_fails_when_the_numeric_one_is_not_zero():
    with pytest.raises(GradcheckError) as info:
        gradcheck(sabotaged(lambda ga, gb: (ga, None)), [A, B])
    index, _, analytic, numeric = parse_failure(str(info.value))
    assert index == 1 and analytic == 0.0 and abs(numeric) > 1e-3


def test_forgotten_gradient_passes_when_the_input_is_unused():
    class IgnoresB(Function):
        def forward(self, a, b):
            return 2 * a

        def backward(self, gy):
            return 2 * gy, None

    assert gradcheck(IgnoresB.apply, [A, B]).checked == [0, 1]


def test_nan_gradient_fails():
    with pytest.raises(GradcheckError, match="analytic nan"):
        gradcheck(sabotaged(lambda ga, gb: (ga * np.nan, gb)), [A, B])


def test_raise_exception_false_returns_a_falsy_result():
    result = gradcheck(sabotaged(lambda ga, gb: (1.1 * ga, gb)), [A, B],
                       raise_exception=False)
    assert isinstance(result, GradcheckResult) and not result and result.passed is False
    assert result.worst_ratio > 1 and result.max_rel_error == pytest.approx(0.1 / 1.1, rel=1e-3)
    assert parse_failure(result.message)[0] == 0


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_tolerances_are_honoured():
    nearly = sabotaged(lambda ga, gb: (ga * (1 + 1e-4), gb))
    assert gradcheck(nearly, [A, B])                                   # within rtol 1e-3
    with pytest.raises(GradcheckError):
        gradcheck(nearly, [A, B], atol=1e-9, rtol=1e-6)


def test_failure_is_reproducible_with_a_seed():
    fn = sabotaged(lambda ga, gb: (1.1 * ga, gb))
    messages = [gradcheck(fn, [BIG_A, BIG_B], max_full=16, seed=7, raise_exception=False).message
                for _ in range(2)]
    assert messages[0] == messages[1] != ""


# ---------------------------------------------------------------------------------------------
# Which inputs are checked, and how they are handled
# ---------------------------------------------------------------------------------------------
def test_wrt_selects_the_inputs():
    wrong_a = sabotaged(lambda ga, gb: (1.1 * ga, gb))
    result = gradcheck(wrong_a, [A, B], wrt=[1])
    assert result.passed and result.checked == [1]
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(wrong_a, [A, B], wrt=[0])


class Take(Function):
    """x[index] along axis 0 (index an integer array: no gradient)."""

    def forward(self, x, index):
        self.save(index=index, rows=x.shape[0])
        return x[index]

    def backward(self, gy):
        # a gather's transpose: add each row of gy back where it was taken from
        xp = backend.get_array_module(gy)
        gx = xp.zeros((self.saved.rows,) + gy.shape[1:], dtype=gy.dtype)
        return backend.scatter_add(gx, self.saved.index, gy), None


def test_integer_and_none_inputs_are_passed_through():
    index = np.array([2, 0, 2, 1])                    # a repeated row: gradients add up
    result = gradcheck(Take.apply, [A, index])
    assert result.passed and result.checked == [0]
    np.testing.assert_array_equal(index, [2, 0, 2, 1])

    class WithOptional(Function):
        def forward(self, x, bias):
            assert bias is None
            return x * 3

        def backward(self, gy):
            return 3 * gy, None

    assert gradcheck(WithOptional.apply, [A, None]).checked == [0]


def test_integer_wrt_is_refused_clearly():
    with pytest.raises(TypeError, match="gradcheck"):
        gradcheck(Take.apply, [A, np.array([0, 1])], wrt=[1])


def test_broadcast_views_are_copied_before_perturbing():
    row = RNG.normal(size=(1, 4))
    view = np.broadcast_to(row, (3, 4))               # zero stride along axis 0
    before = row.copy()
    result = gradcheck(Mul.apply, [view, B])
    assert result.passed and result.checked == [0, 1]
    np.testing.assert_array_equal(row, before)        # the caller's data is untouched


def test_inputs_are_not_modified():
    a, b = A.copy(), B.copy()
    gradcheck(sabotaged(lambda ga, gb: (1.1 * ga, gb)), [a, b], raise_exception=False)
    np.testing.assert_array_equal(a, A)
    np.testing.assert_array_equal(b, B)


def test_float32_output_raises_type_error():
    class ToFloat32(Function):
        def forward(self, x):
            return x.astype(np.float32)

        def backward(self, gy):
            return gy

    with pytest.raises(TypeError, match="gradcheck: fn returned float32 for float64 inputs"):
        gradcheck(ToFloat32.apply, [A])


def test_no_floating_input_or_output_raises():
    with pytest.raises(ValueError, match="gradcheck: no floating-point input to check"):
        gradcheck(lambda i: Tensor(i * 2), [np.array([1, 2])])
    with pytest.raises(ValueError, match="gradcheck: fn returned no floating-point Tensor"):
        gradcheck(lambda x: Tensor(np.array([1, 2])), [A])


def test_numerical_grad_of_a_square():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    r = np.array([[1.0, 2.0], [-1.0, 0.5]])
    g = numerical_grad(lambda t: t * t, [x], 0, [r], 1e-6)
    np.testing.assert_allclose(g, 2 * x * r, rtol=1e-7, atol=1e-8)
    assert g.dtype == np.float64


# ---------------------------------------------------------------------------------------------
# The registered cases catch a sabotaged op too
# ---------------------------------------------------------------------------------------------
def _scaled(backward, factor):
    def wrong(self, *gys):
        grads = backward(self, *gys)
        grads = grads if isinstance(grads, tuple) else (grads,)
        grads = tuple(None if g is None else factor * g for g in grads)
        return grads if len(grads) > 1 else grads[0]
    return wrong


@pytest.mark.parametrize("name, op_class", [("add", arith.Add), ("mul", arith.Mul),
                                            ("matmul", arith.MatMul), ("exp", arith.Exp),
                                            ("div", arith.Div)])
def test_registered_cases_fail_when_their_op_is_sabotaged(name, op_class):
    @settings(max_examples=5, deadline=None, database=None)
    @given(strategy(name))
    def check(case):
        assert run_case(case)                         # the real backward passes ...
        with pytest.MonkeyPatch.context() as mp:      # ... a 1.5x one fails on the same example
            mp.setattr(op_class, "backward", _scaled(op_class.backward, 1.5))
            with pytest.raises(GradcheckError, match="gradcheck failed for input"):
                run_case(case)
    check()
