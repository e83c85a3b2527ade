"""The rclpy side of hmr_node's parameters: declare every parameter of ``hmr_ros.parameters.PARAMS`` with a ROS
descriptor (description, range or choices, read-only), read them back and validate them."""
from __future__ import annotations

from hmr_ros.parameters import PARAMS, SPECS, NodeConfig, ParameterError, make_config


def declare_and_read(node) -> NodeConfig:
    """Declare every parameter on an rclpy node (descriptors with description, ranges, read-only), read them
    back and validate. Any problem -> ParameterError with one line."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                                  ParameterException)

    for spec in PARAMS:
        desc = ParameterDescriptor(name=spec.name, description=spec.description, read_only=spec.read_only)
        if spec.choices:
            desc.additional_constraints = "one of: " + ", ".join(spec.choices)
        if spec.range is not None:
            lo, hi, step = spec.range
            if spec.type is int:
                desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
            else:
                desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi),
                                                                step=float(step))]
        try:
            node.declare_parameter(spec.name, spec.default, desc)
        except (InvalidParameterTypeException, InvalidParameterValueException, ParameterException) as exc:
            # rclpy checked the override against the descriptor; say it in the same words as make_config
            override = (getattr(node, "_parameter_overrides", {}) or {}).get(spec.name)
            problem = spec.check(override.value) if override is not None else None
            raise ParameterError(f"invalid parameter '{spec.name}': {problem or exc} ({spec.description})") from None

    # rclpy silently ignores overrides of undeclared names; a typo in the YAML must not pass unnoticed
    overrides = getattr(node, "_parameter_overrides", {}) or {}
    unknown = sorted(n for n in overrides if n not in SPECS and not node.has_parameter(n))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)} for hmr_node; known: {', '.join(SPECS)}")
    return make_config({spec.name: node.get_parameter(spec.name).value for spec in PARAMS})
