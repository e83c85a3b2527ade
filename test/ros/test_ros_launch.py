"""launch/hmr.launch.py cannot run here (no launch wheels), so its declarations are read from the source:
the arguments users pass, the remappings onto the node's real topic names, and the installed files it uses."""
import ast
from pathlib import Path

from hmr_ros import topics

REPO = Path(__file__).resolve().parents[2]
LAUNCH = REPO / "launch" / "hmr.launch.py"


def calls(name: str) -> list[ast.Call]:
    tree = ast.parse(LAUNCH.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def kwarg(call: ast.Call, name: str):
    return next(k.value for k in call.keywords if k.arg == name)


def test_declares_the_documented_arguments():
    names = [ast.literal_eval(c.args[0]) for c in calls("DeclareLaunchArgument")]
    assert names[:4] == ["image", "camera_info", "params_file", "rviz"]
    rviz = next(c for c in calls("DeclareLaunchArgument") if ast.literal_eval(c.args[0]) == "rviz")
    assert ast.literal_eval(kwarg(rviz, "default_value")) == "false"


def test_remaps_the_node_topics_to_the_arguments():
    node_topics = {topics.IMAGE, topics.CAMERA_INFO}  # where the node declares them
    hmr = next(c for c in calls("Node") if ast.literal_eval(kwarg(c, "executable")) == "hmr_node")
    remaps = {ast.literal_eval(t.elts[0]): t.elts[1] for t in kwarg(hmr, "remappings").elts}
    assert set(remaps) == node_topics
    assert {ast.literal_eval(v.args[0]) for v in remaps.values()} == {"image", "camera_info"}
    assert ast.literal_eval(kwarg(hmr, "package")) == "hmr_ros"


def test_uses_files_that_the_package_installs():
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert "install(PROGRAMS scripts/hmr_node DESTINATION lib/${PROJECT_NAME})" in cmake
    assert "install(DIRECTORY launch config DESTINATION share/${PROJECT_NAME})" in cmake
    joined = [[ast.literal_eval(e) for e in c.args[0].elts[1:]] for c in calls("PathJoinSubstitution")]
    assert ["config", "hmr.yaml"] in joined and ["config", "hmr.rviz"] in joined
    for parts in joined:
        assert (REPO.joinpath(*parts)).is_file(), parts


def test_rviz_config_shows_the_marker_topic():
    assert "Value: /humans/smpl/markers" in (REPO / "config" / "hmr.rviz").read_text()
