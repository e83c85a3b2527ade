"""The README's promise a new user tries first: its Python example runs as written and finds the two rendered
people it says it finds."""
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_python_example_runs_and_finds_the_rendered_people(capsys):
    section = README.split("## Without ROS", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102  (our own README)
    bodies = scope["bodies"]
    assert len(bodies) == 2 and all(b.score > 0.5 for b in bodies)
    assert len(capsys.readouterr().out.splitlines()) == 2
