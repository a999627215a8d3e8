"""The course's graded exercises, in one table: the ids nbgrader's test cells and the checks use.

Torch-free, like the rest of this package: the checks, the stand-ins, the judge and the learner's
engine all read it (the engine's ``EXERCISES``, behind its "not written yet" messages, is
``ENGINE_TABLE`` below); nothing else lists the exercises.
"""

# engine units: id -> (notebook, what the learner writes (in the learner's words), where it lives in engine.py as
# (class name or None for a module-level function, attribute))
UNITS = {
    "pow_backward": ("01_x_squared.ipynb", "Pow.backward, the derivative of x ** n", [("Pow", "backward")]),
    "accumulate_grad": ("01_x_squared.ipynb", "AccumulateGrad.apply, adding a gradient into leaf.grad",
                        [("AccumulateGrad", "apply")]),
    "sin_backward": ("02_sin_chain_rule.ipynb", "Sin.backward, the derivative of sin(x)", [("Sin", "backward")]),
    "backward_pass": ("02_sin_chain_rule.ipynb",
                      "run_backward and topological_order, the chain rule over the whole graph",
                      [(None, "run_backward"), (None, "topological_order")]),
    "add_backward": ("03_neuron_bce.ipynb", "Add.backward", [("Add", "backward")]),
    "sub_backward": ("03_neuron_bce.ipynb", "Sub.backward (also used for 1 - x)", [("Sub", "backward")]),
    "mul_backward": ("03_neuron_bce.ipynb", "Mul.backward", [("Mul", "backward")]),
    "neg_backward": ("03_neuron_bce.ipynb", "Neg.backward", [("Neg", "backward")]),
    "sigmoid_backward": ("03_neuron_bce.ipynb", "Sigmoid.backward", [("Sigmoid", "backward")]),
    "log_backward": ("03_neuron_bce.ipynb", "Log.backward", [("Log", "backward")]),
    "clamp_backward": ("03_neuron_bce.ipynb", "Clamp.backward", [("Clamp", "backward")]),
    "mean_backward": ("04_vector_input.ipynb", "Mean.backward", [("Mean", "backward")]),
    "sum_to_shape": ("04_vector_input.ipynb", "sum_to_shape, undoing broadcasting in a gradient",
                     [(None, "sum_to_shape")]),
    "zero_": ("05_clearing_gradients.ipynb", "Tensor.zero_, clearing a tensor in place", [("Tensor", "zero_")]),
    "grad_mode": ("06_disabling_tracking.ipynb", "no_grad's __enter__ and __exit__, switching recording off and back",
                  [("_GradModeContext", "__enter__"), ("_GradModeContext", "__exit__")]),
    "detach": ("06_disabling_tracking.ipynb", "Tensor.detach, the same data without the graph", [("Tensor", "detach")]),
    "log_softmax_backward": ("08_mlp_real_data.ipynb", "LogSoftmax.backward, the gradient of log_softmax",
                             [("LogSoftmax", "backward")]),
    "softplus_backward": ("09_custom_function.ipynb", "Softplus.backward, the gradient of softplus",
                          [("Softplus", "backward")]),
}

# notebook exercises: id -> (notebook, the function the learner writes in the cell with grade_id
# "<id>_answer", does it use the learner's engine?)
ANSWERS = {
    "manual_dy_dx": ("01_x_squared.ipynb", "dy_dx", False),
    "manual_dz_dx": ("02_sin_chain_rule.ipynb", "dz_dx", False),
    "manual_bce_grads": ("03_neuron_bce.ipynb", "manual_gradients", False),
    "manual_mean_square_grad": ("04_vector_input.ipynb", "mean_square_grad", False),
    "predict_accumulated_grad": ("05_clearing_gradients.ipynb", "predict_grad", False),
    "no_grad_inference": ("06_disabling_tracking.ipynb", "predict", True),
    "sgd_step": ("07_training_a_neuron.ipynb", "sgd_step", True),
    "train_neuron": ("07_training_a_neuron.ipynb", "train_neuron", True),
    "mlp_forward": ("08_mlp_real_data.ipynb", "mlp_forward", True),
    "train_step": ("08_mlp_real_data.ipynb", "train_step", True),
    "clip_grad_norm": ("12_when_gradients_go_wrong.ipynb", "clip_grad_norm", False),
    "layer_grad_norms": ("12_when_gradients_go_wrong.ipynb", "layer_grad_norms", True),
    "jacobian_rows": ("10_vjp_jvp.ipynb", "jacobian_rows", True),
    "dual_jvp": ("10_vjp_jvp.ipynb", "jvp", False),
    "hvp": ("11_higher_order.ipynb", "hvp", False),
    "gradient_penalty": ("11_higher_order.ipynb", "gradient_penalty", False),
    "numerical_gradient": ("09_custom_function.ipynb", "numerical_gradient", False),
}

# notebook answers written in torch itself (notebook 11: the engine's backward returns numpy arrays, so
# nothing records it and a gradient of a gradient needs torch). The judge runs them in its torch worker
# (``autograder.instructor.judge``): a sandbox that has torch, gets the inputs and returns values, and
# never holds torch's answer, which the judge computes in its own process.
NEEDS_TORCH = frozenset({"hvp", "gradient_penalty"})

ALL = tuple(UNITS) + tuple(ANSWERS)

# the engine's table: unit id -> (notebook that asks for it, what to write)
ENGINE_TABLE = {unit: (notebook, what) for unit, (notebook, what, _) in UNITS.items()}
