"""The op table: one entry per op case drives every op test in test_ops.py (like OpInfo).

Each `OpCase` names the tinyflow function, its NumPy reference, sample inputs (shapes,
value domains, non-contiguous layouts, which inputs are differentiated), the dtypes its
forward pass is checked in, the expected output dtype, tolerances, and error inputs (bad
input, exception type, message). One module per group of ops, as in tinyflow/ops; each
op's reference and adapters sit just above its entry. `common` holds what they share.
"""
from . import (activation, attention, clamp, conv, creation, discrete, fused, indexing, linalg, losses,
               math, nn, matrix, normalization, pool, product, quantize, reduce, rnn, shape, sparse,
               special_functions)
from .common import ErrorInput, OpCase, make_array  # noqa: F401

GROUPS = (math, reduce, linalg, shape, indexing, nn, creation, conv, pool, rnn, activation,
          normalization, fused, quantize, attention, sparse, losses, product, matrix, clamp,
          special_functions, discrete)
TABLE: list[OpCase] = [case for group in GROUPS for case in group.CASES]

# Registered ops that the table cannot drive, and the test in test_ops.py that covers each.
COVERED_ELSEWHERE = {
    "multinomial": "test_multinomial_draws_in_proportion_to_the_weights",
    "random_normal": "test_random_ops_shape_dtype_statistics",
    "random_uniform": "test_random_ops_shape_dtype_statistics",
    "assign": "test_eager_assign_writes_in_place",
    "adam_step": "test_adam_step_matches_the_rule_in_place",
    "momentum_step": "test_momentum_step_matches_the_rule_in_place",
    "sgd_step": "test_sgd_step_matches_the_rule_in_place",
    "batch_norm_tracked": "test_batch_norm_tracked_normalizes_updates_in_place_and_differentiates",
    "no_op": "test_group_runs_its_inputs",
    "random_mask": "test_random_mask_keeps_the_right_share_and_redraws",
    "custom_function": "test_custom_function_gradient_is_the_users_backward",
    "while_loop": "test_while_loop_ops_run_and_differentiate",
    "while_loop_var": "test_while_loop_ops_run_and_differentiate",
    "while_loop_grad": "test_while_loop_ops_run_and_differentiate",
    "while_loop_grad_part": "test_while_loop_ops_run_and_differentiate",
    "tensor_array_write": "test_tensor_array_write_ops_run_and_differentiate",
    "tensor_array_write_grad": "test_tensor_array_write_ops_run_and_differentiate",
    "assert": "test_assert_print_and_py_func_ops_run_in_a_graph",
    "print": "test_assert_print_and_py_func_ops_run_in_a_graph",
    "py_func": "test_assert_print_and_py_func_ops_run_in_a_graph",
    "py_func_output": "test_assert_print_and_py_func_ops_run_in_a_graph",
    "iterator_get_next": "test_dataset_iterator_ops_pull_and_restart",
    "iterator_component": "test_dataset_iterator_ops_pull_and_restart",
    "iterator_reset": "test_dataset_iterator_ops_pull_and_restart",
    "log_uniform_candidates": "test_log_uniform_candidates_are_zipfian_and_distinct_when_asked",
    "scalar_summary": "test_summary_ops_write_tf1_summary_protos",
    "histogram_summary": "test_summary_ops_write_tf1_summary_protos",
    "image_summary": "test_summary_ops_write_tf1_summary_protos",
    "merge_summary": "test_summary_ops_write_tf1_summary_protos",
}
