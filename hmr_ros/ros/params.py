"""The rclpy side of hmr_node's parameters: declare every parameter of ``hmr_ros.parameters.PARAMS`` with a ROS
descriptor (description, range or choices, read-only), read them back and validate them."""
from __future__ import annotations

from hmr_ros.parameters import (NODE_NAME, PARAMS, SPECS, NodeConfig, ParameterError, make_config, read_params_file,
                                unknown_parameters)


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
            if spec.auto is not None:  # input_size 0 = the checkpoint's: the range starts there (step from it);
                lo = min(lo, spec.auto)  # make_config's check refuses what lies between, in the node's words
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
    unknown = [n for n in overrides if n not in SPECS and not node.has_parameter(n)]
    if unknown:
        raise unknown_parameters(unknown, " for hmr_node")
    return make_config({spec.name: node.get_parameter(spec.name).value for spec in PARAMS})


def _type_problem(name: str, value) -> str | None:
    expected = SPECS[name].type
    if expected is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return None
    if type(value) is expected:
        return None
    return f"expected {expected.__name__}, got {type(value).__name__} {value!r}"


def check_arguments(argv: list[str] | None) -> None:
    """Refuse values of the wrong type given on the command line (``-p name:=value``) or in a ``--params-file``.

    rcl silently drops a value whose type differs from the one an earlier params file gave the same name (so
    ``input_size:=abc`` after config/hmr.yaml would run with 128 without a word); this reads the arguments the
    way rcl does (values are YAML) and raises ParameterError naming the parameter and where it came from.
    """
    import yaml

    args = list(argv or [])
    if "--ros-args" not in args:
        return
    found: list[tuple[str, object, str]] = []  # (name, value, where)
    i = args.index("--ros-args") + 1
    while i < len(args):
        flag = args[i]
        if flag == "--":
            break
        value = args[i + 1] if i + 1 < len(args) else ""
        if flag in ("-p", "--param") and ":=" in value:
            name, _, text = value.partition(":=")
            node, _, name = name.rpartition(":")  # "hmr_node:window:=4" names the node
            if not node or node == NODE_NAME:
                try:
                    found.append((name, yaml.safe_load(text), f"'{flag} {value}'"))
                except yaml.YAMLError:
                    found.append((name, text, f"'{flag} {value}'"))
            i += 2
        elif flag == "--params-file":
            params = read_params_file(value, required=False)  # a file for other nodes only: rcl ignores it
            found += [(name, v, f"--params-file {value}") for name, v in params.items()]
            i += 2
        else:
            i += 1
    for name, value, where in found:
        if name in SPECS:  # only the type: rcl passes on values of the right type, declare_and_read checks them
            problem = _type_problem(name, value)
            if problem:
                raise ParameterError(f"invalid parameter '{name}' ({where}): {problem} ({SPECS[name].description})")
