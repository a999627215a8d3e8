"""Smooth functions of one array for the numerical-gradient exercise (notebook 09), chosen by name.

Each rule is written once, ``rule(m, x, a)``, with ``m`` a module: numpy in the torch-free worker,
where the learner's ``numerical_gradient`` evaluates it, and torch in the checks, where autograd
differentiates the very same formula. ``a`` holds coefficients the judge draws, of ``x``'s shape.
Only operations that numpy and torch spell alike appear here.
"""

FUNCTIONS = {
    "sum(a * sin(x))": lambda m, x, a: (a * m.sin(x)).sum(),
    "sum(tanh(a * x) ** 2)": lambda m, x, a: (m.tanh(a * x) ** 2).sum(),
    "log(1 + sum(exp(a * x)))": lambda m, x, a: m.log1p(m.exp(a * x).sum()),
    "sum(a * x ** 3) / 3 + sum(x) ** 2": lambda m, x, a: (a * x ** 3).sum() / 3 + x.sum() ** 2,
    "sum(cos(a * x) * x)": lambda m, x, a: (m.cos(a * x) * x).sum(),
}
