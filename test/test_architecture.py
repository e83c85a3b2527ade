"""The house as docs/architecture.md draws it: every module of hmr_ros belongs to a layer, imports only from its own
layer or lower ones, the imports have no cycle, and only hmr_ros.ros touches ROS."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hmr_ros"

#: lowest first; a module may import from its own layer and the layers before it (docs/architecture.md)
LAYERS = (
    ("geometry", "text"),
    ("smpl",),
    ("model", "palette", "markers"),
    ("backends", "bodies", "camera", "checkpoint", "frame_buffer", "image_codec", "teacher"),
    ("estimator",),
    ("tracking",),
    ("pipeline",),
    ("parameters",),
    ("sim",),
    ("training", "datasets"),
    ("eval",),
    ("recordings",),
    ("cli", "ros", "__main__", "__init__", "msg"),
)
RANK = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
ROS_PACKAGES = {"rclpy", "sensor_msgs", "std_msgs", "visualization_msgs", "diagnostic_msgs", "geometry_msgs",
                "rcl_interfaces", "builtin_interfaces", "ament_index_python", "rosidl_runtime_py"}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(("hmr_ros",) + parts).removesuffix(".__init__")] = path
    return out


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    """Every module name imported anywhere in the file (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


MODULES = modules()


def test_every_module_has_a_layer():
    assert {room(m) for m in MODULES} <= set(RANK), "add new top-level modules or folders to LAYERS"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_from_a_higher_layer(module):
    own = RANK[room(module)]
    for name in imports(MODULES[module]):
        if name.startswith("hmr_ros.") and name in MODULES:
            assert RANK[room(name)] <= own, f"{module} (layer {own}) imports {name} (layer {RANK[room(name)]})"


def test_only_the_ros_folder_imports_ros():
    for module, path in MODULES.items():
        if room(module) == "ros":
            continue
        ros = {n.split(".")[0] for n in imports(path)} & ROS_PACKAGES
        assert not ros, f"{module} imports {sorted(ros)}: ROS belongs in hmr_ros/ros/"


def test_module_imports_have_no_cycle():
    graph = {m: {n for n in imports(p) if n in MODULES and n != m} for m, p in MODULES.items()}
    # a package importing its own submodules (a package's face) is not a cycle of the house
    graph = {m: {n for n in deps if not n.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, trail):
        state[m] = 1
        for n in graph[m]:
            assert state.get(n) != 1, "import cycle: " + " -> ".join(trail + [m, n])
            if n not in state:
                visit(n, trail + [m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_modules_stay_small():
    """One job per file: no module beyond ~400 lines (a few, with reasons in docs/architecture.md, up to 440; larger
    ones split along their seams, e.g. tracking/association.py out of tracking/tracker.py)."""
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert all(n <= 440 for n in sizes.values()), {m: n for m, n in sizes.items() if n > 440}
