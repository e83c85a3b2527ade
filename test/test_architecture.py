"""The house as docs/architecture.md draws it: every module of hmr_ros belongs to a layer, imports only from its own
layer or lower ones, the imports have no cycle, and only hmr_ros.ros touches ROS."""
import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hmr_ros"

#: lowest first; a module may import from its own layer and the layers before it (docs/architecture.md)
LAYERS = (
    ("geometry", "text", "topics"),
    ("smpl",),
    ("model", "palette", "markers", "render"),
    ("backends", "bodies", "camera", "checkpoint", "frame_buffer", "image_codec", "teacher",
     "camera_messages", "smpl_human", "clips", "clip_files", "pretrained"),
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


#: Outside sim/, the modules whose job is to produce synthetic data call the simulator: the on-the-fly training
#: stream, the token cache's clips, the bench splits, render-shards, adapt's synthetic half
#: and the demo's clip. Everyone else, and every type, goes through the neutral hmr_ros.clips.
SIM_USERS = {"hmr_ros.training.dataset", "hmr_ros.training.token_cache", "hmr_ros.eval.splits",
             "hmr_ros.cli.render_shards", "hmr_ros.cli.adapt", "hmr_ros.ros.demo"}


def sim_classes() -> set[str]:
    return {f"{m}.{node.name}" for m, p in MODULES.items() if room(m) == "sim"
            for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.ClassDef)}


def test_only_the_simulator_and_its_listed_users_import_sim_and_never_for_a_type():
    classes = sim_classes()
    for module, path in MODULES.items():
        if room(module) == "sim":
            continue
        used = {n for n in imports(path) if n.startswith("hmr_ros.sim")}
        assert not used or module in SIM_USERS, f"{module} imports {sorted(used)}: types are in hmr_ros.clips"
        assert not used & classes, f"{module} imports the types {sorted(used & classes)} from sim: use hmr_ros.clips"


def test_datasets_are_clip_sources_that_know_nothing_of_training():
    for module, path in MODULES.items():
        if room(module) == "datasets":
            bad = {n for n in imports(path) if n.startswith(("hmr_ros.training", "hmr_ros.sim"))}
            assert not bad, f"{module} imports {sorted(bad)}"


def test_one_projection_function():
    """Pinhole projection is written once (geometry/projection.py); elsewhere it is called, not re-derived."""
    pattern = re.compile(r"def \w*project\w*\(|/ *z\b.*\* *K|K\[0, *0\] *\+ *\w*\.?K\[0, *2\]"
                         r"|\[(\.\.\.|:), *:2\] */ *\w+\[(\.\.\.|:), *2|\[:, *[01]\] */ *\w+\[:, *2\] *\*")
    found = {m: [line.strip() for line in p.read_text().splitlines() if pattern.search(line)]
             for m, p in MODULES.items()}
    found = {m: lines for m, lines in found.items() if lines}
    allowed = {"hmr_ros.geometry.projection", "hmr_ros.training.body_losses"}  # project_to_letterbox calls project
    assert set(found) <= allowed, found


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
