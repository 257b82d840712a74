"""tinyflow.viz: DOT pictures of graphs and programs, forward/loss/backward/update told apart.

The DOT text is parsed structurally here (balanced braces, terminated strings, every edge
endpoint declared) rather than by a Graphviz binding, which is not a dependency; rendering is
checked where Graphviz's `dot` is installed, and its absence is simulated.
"""
from __future__ import annotations

import re

import pytest

import tinyflow as tf
from tinyflow import passes, viz
from tinyflow.passes import Program

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|->|[{}\[\];=,]|[^\s{}\[\];=,"]+')


def parse_dot(text: str) -> tuple:
    """(nodes: id -> attrs, edges: [(tail, head, attrs)], clusters: name -> node ids) of a
    digraph, failing on unbalanced braces or brackets, an unterminated string, or an edge
    whose endpoint is not declared as a node."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    assert '"' not in stripped.replace('""', ""), "unterminated string"
    tokens = _TOKEN.findall(text)
    assert tokens[:2] == ["digraph", "tinyflow"] and tokens[2] == "{"
    depth, nodes, edges, clusters, stack = 0, {}, [], {}, []
    statement: list = []
    for tok in tokens[2:]:
        if tok == "{":
            depth += 1
            name = statement[1] if statement[:1] == ["subgraph"] else None
            stack.append(name)
            if name:
                clusters[name] = []
            statement = []
        elif tok == "}":
            depth -= 1
            assert depth >= 0, "unbalanced }"
            stack.pop()
            statement = []
        elif tok == ";":
            _statement(statement, nodes, edges, clusters, stack)
            statement = []
        else:
            statement.append(tok)
    assert depth == 0 and not statement, "unbalanced braces or an unterminated statement"
    for tail, head, _ in edges:
        assert tail in nodes and head in nodes, f"edge {tail} -> {head} to an undeclared node"
    return nodes, edges, clusters


def _attrs(tokens: list) -> dict:
    assert tokens[0] == "[" and tokens[-1] == "]", tokens
    out, body = {}, [t for t in tokens[1:-1] if t != ","]
    assert len(body) % 3 == 0, tokens
    for k in range(0, len(body), 3):
        key, eq, value = body[k:k + 3]
        assert eq == "=", tokens
        out[key] = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    return out


def _statement(st: list, nodes, edges, clusters, stack) -> None:
    if not st or st[0] in ("node", "edge", "graph") or "=" in st[:2] and "[" not in st[:2]:
        return   # defaults or a graph attribute
    if len(st) > 2 and st[1] == "->":
        edges.append((st[0], st[2], _attrs(st[3:]) if len(st) > 3 else {}))
        return
    assert st[0] not in nodes, f"node {st[0]} declared twice"
    nodes[st[0]] = _attrs(st[1:]) if len(st) > 1 else {}
    for name in stack:
        if name:
            clusters[name].append(st[0])


def kind_of(attrs: dict) -> str:
    return re.search(r"\((\w+)\)$", attrs["tooltip"]).group(1)


def seed_program():
    """The specification's MNIST program (W1), as built by hand in examples/mnist_softmax.py."""
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    W = tf.Variable(tf.zeros([784, 10]), name="W")
    logits = tf.matmul(x, W)
    y = tf.nn.softmax(logits)
    y_ = tf.placeholder(tf.float32, [None, 10], name="y_")
    cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    W_grad = tf.gradients(cross_entropy, [W])[0]
    train_step = tf.assign(W, W - 0.5 * W_grad)
    return dict(x=x, W=W, y_=y_, logits=logits, loss=cross_entropy, grad=W_grad,
                train_step=train_step)


def names_by_kind(program: Program, kinds: dict) -> dict:
    out: dict = {}
    for s in program.steps:
        out.setdefault(kinds[s.output], set()).add(s.name[:-2])
    return out


def test_gradients_build_their_nodes_in_a_name_scope():
    g = seed_program()
    assert g["grad"].name.startswith("gradients/")
    assert g["logits"].name == "matmul:0" and g["train_step"].name == "assign:0"
    second = tf.gradients(g["loss"], [g["W"]])[0]
    assert second.name.startswith("gradients_1/")
    assert tf.matmul(g["x"], g["W"]).name == "matmul_1:0"   # forward names are not scoped


def test_seed_program_classes():
    g = seed_program()
    program = viz.program_of(g["train_step"])
    by_kind = names_by_kind(program, viz.classify(program))
    assert by_kind[viz.FORWARD] == {"matmul", "softmax", "log", "mul", "sum", "neg", "sum_1",
                                    "count"}
    assert by_kind[viz.LOSS] == {g["loss"].name[:-2]} == {"div"}
    assert by_kind[viz.UPDATE] == {"mul_1", "sub", "assign"}     # lr * grad, W - ..., assign
    assert g["grad"].name[:-2] in by_kind[viz.BACKWARD] and "gradients/grad_ys" in \
        by_kind[viz.BACKWARD]
    assert by_kind[viz.BACKWARD] == {s.name[:-2] for s in program.steps
                                     if s.name.startswith("gradients/")}


def test_seed_program_dot_is_valid_and_coloured_by_class():
    g = seed_program()
    dot = viz.to_dot(g["train_step"])
    assert isinstance(dot, str)
    nodes, edges, clusters = parse_dot(dot)
    by_tip = {a["tooltip"]: (n, a) for n, a in nodes.items() if "tooltip" in a}
    matmul, matmul_attrs = by_tip["matmul (forward)"]
    assign, assign_attrs = by_tip["assign (update)"]
    x, x_attrs = by_tip["x (feed)"]
    W, W_attrs = by_tip["W (variable)"]
    assert matmul_attrs["fillcolor"] == viz.STYLE[viz.FORWARD]["fillcolor"]
    assert assign_attrs["fillcolor"] == viz.STYLE[viz.UPDATE]["fillcolor"]
    assert by_tip["div (loss)"][1]["fillcolor"] == viz.STYLE[viz.LOSS]["fillcolor"]
    assert by_tip["gradients/matmul (backward)"][1]["fillcolor"] == \
        viz.STYLE[viz.BACKWARD]["fillcolor"]
    assert (x_attrs["shape"], W_attrs["shape"]) == ("ellipse", "cylinder")
    assert matmul_attrs["label"] == "matmul\\n[?, 10] float32"
    assert assign_attrs["penwidth"] == "2.5"      # the fetch
    assert (x, matmul, {}) in edges and (W, matmul, {}) in edges
    writes = [e for e in edges if e[1] == assign and e[2].get("style") == "bold"]
    assert [e[0] for e in writes] == [W]
    kinds = {kind_of(a) for n, a in nodes.items() if n.startswith("v")}
    assert kinds == {"forward", "loss", "backward", "update", "feed", "variable", "constant"}
    assert set(clusters) == {"cluster_legend"}


def test_a_plan_and_a_graph_are_drawn_too():
    g = seed_program()
    sess = tf.Session()
    plan = sess.make_plan(g["train_step"], [g["x"], g["y_"]])
    nodes, _, _ = parse_dot(viz.to_dot(plan))
    assert len([n for n in nodes if n.startswith("v")]) == \
        len(plan.program.steps) + len(plan.program.externals)
    correct = tf.equal(tf.argmax(g["logits"], 1), tf.argmax(g["y_"], 1))
    tf.reduce_mean(tf.cast(correct, tf.float32))
    nodes, _, _ = parse_dot(viz.to_dot(tf.get_default_graph()))
    tips = {a.get("tooltip") for a in nodes.values()}
    assert {"assign (update)", "argmax (forward)", "argmax_1 (forward)"} <= tips
    assert viz.program_of("assign:0").fetches == viz.program_of(g["train_step"]).fetches
    with pytest.raises(TypeError, match="cannot draw 3 of type int"):
        viz.to_dot([g["loss"], 3])


def test_optimizer_updates_and_group_are_update_nodes():
    x = tf.placeholder(tf.float32, [None, 3])
    W = tf.Variable(tf.ones([3, 2]))
    loss = tf.reduce_sum(tf.square(tf.matmul(x, W)))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    program = viz.program_of(train)
    kinds = viz.classify(program)
    for s in program.steps:
        kind = kinds[s.output]
        if s.name.startswith("gradients/"):
            assert kind == viz.BACKWARD, s.name
        elif getattr(s.op, "writes_input", None) is not None or s.op.name == "no_op":
            assert kind == viz.UPDATE, s.name
    assert sum(kinds[s.output] == viz.UPDATE for s in program.steps) > 3 + 1   # Adam's math
    forward = {s.op.name for s in program.steps if kinds[s.output] == viz.FORWARD}
    assert forward == {"matmul", "square"}
    nodes, edges, _ = parse_dot(viz.to_dot(train))
    group = next(n for n, a in nodes.items() if a.get("tooltip", "").startswith("Adam "))
    into_group = [e for e in edges if e[1] == group]
    assert into_group and all(e[2] == {"style": "dashed"} for e in into_group)
    assert all(kind_of(nodes[e[0]]) == "update" for e in into_group)


def test_steps_a_pass_made_take_their_class_from_their_inputs():
    """A step with no graph node behind it (made by a rewrite), including a fused kernel."""
    g = seed_program()
    program = viz.program_of(g["train_step"])

    class Fused:
        name = "fused[add,mul,add]"

    steps = list(program.steps)
    grad = next(n for n, s in enumerate(steps) if s.name == "gradients/matmul:0")
    loss = next(n for n, s in enumerate(steps) if s.name == "div:0")
    new_value = next(n for n, s in enumerate(steps) if s.name == "sub:0")   # W - lr * grad
    steps[grad] = steps[grad].replace(name=None, op=Fused())
    steps[loss] = steps[loss].replace(name=None)
    steps[new_value] = steps[new_value].replace(name=None)
    edited = program.with_steps(steps)
    kinds = viz.classify(edited, loss_names={"div:0"})
    assert kinds[steps[grad].output] == viz.BACKWARD    # on the chain, but reads no state
    assert kinds[steps[new_value].output] == viz.UPDATE   # reads the assigned variable
    assert kinds[steps[loss].output] == viz.LOSS    # the seed still reads it
    assert viz.classify(edited)[steps[grad].output] == viz.BACKWARD
    nodes, _, _ = parse_dot(viz.to_dot(edited))
    fused = nodes[f"v{steps[grad].output}"]
    assert fused["label"].startswith("fused[add,mul,add]\\n") and fused["peripheries"] == "2"


def test_compare_draws_before_and_after_side_by_side():
    x = tf.placeholder(tf.float32, [4], name="x")
    y = tf.placeholder(tf.float32, [4], name="y")
    out = (x * y + 1.0) * (x * y + 1.0)         # a repeated subexpression
    dot = viz.compare(out)
    nodes, edges, clusters = parse_dot(dot)
    before, after = clusters["cluster_before"], clusters["cluster_after"]
    assert set(before).isdisjoint(after)
    assert all((t in before) == (h in before) for t, h, _ in edges)  # no edge across
    steps_before = [n for n in before if kind_of(nodes[n]) == "forward"]
    steps_after = [n for n in after if kind_of(nodes[n]) == "forward"]
    assert len(steps_before) == 5
    if any(name == "cse" for name, _ in passes.REWRITES):
        assert len(steps_after) < len(steps_before)
    else:
        assert len(steps_after) <= len(steps_before)
    label = re.search(r'label="(after: [^"]*)"', dot).group(1)
    assert label.startswith(f"after: {len(steps_after)} steps")


def test_compare_with_a_session_uses_its_plan():
    g = seed_program()
    feeds = [g["x"], g["y_"]]
    with_session = viz.compare(g["train_step"], feeds, session=tf.Session())
    without = viz.compare(g["train_step"], feeds)
    assert with_session == without
    reference = viz.compare(g["train_step"], feeds, session=tf.Session(optimize=False))
    nodes, _, clusters = parse_dot(reference)
    assert len(clusters["cluster_before"]) == len(clusters["cluster_after"])
    by_after = {kind_of(nodes[n]) for n in clusters["cluster_after"]}
    assert {"forward", "loss", "backward", "update"} <= by_after


def test_render_without_graphviz_says_what_to_install(monkeypatch, tmp_path):
    g = seed_program()
    monkeypatch.setenv("PATH", str(tmp_path))     # no `dot` anywhere on it
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        viz.render(g["train_step"], tmp_path / "seed.svg")
    assert not (tmp_path / "seed.svg").exists()
    assert viz.to_dot(g["train_step"])._repr_svg_() is None   # a notebook shows the text
    path = viz.render(g["train_step"], tmp_path / "seed.dot")  # DOT needs no Graphviz
    assert path.read_text() == viz.to_dot(g["train_step"])
    with pytest.raises(ValueError, match=r"\.svg"):
        viz.render(g["train_step"], tmp_path / "seed.jpeg")


@pytest.mark.skipif(viz.shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_with_graphviz(tmp_path):
    g = seed_program()
    dot = viz.compare(g["train_step"])
    svg = viz.render(dot, tmp_path / "seed.svg").read_text()
    assert "<svg" in svg and "assign" in svg
    assert viz.render(dot, tmp_path / "seed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in dot._repr_svg_()
    with pytest.raises(RuntimeError, match="dot failed"):
        viz.render("digraph {", tmp_path / "broken.svg")


def test_the_parser_catches_broken_dot():
    """The structural check itself can fail."""
    good = viz.to_dot(tf.placeholder(tf.float32, [2]) * 2.0)
    parse_dot(good)
    with pytest.raises(AssertionError):
        parse_dot(good.replace("}\n", "", 1))
    with pytest.raises(AssertionError, match="undeclared"):
        parse_dot(good.replace("v1 -> v2", "v1 -> v9"))


def test_the_loss_is_found_by_name_when_a_pass_folded_its_seed():
    """A constant folder may turn the seed ones_like(loss) into a constant; the optimized
    program is then coloured by the loss names of the lowered one (as `compare` does)."""
    g = seed_program()
    program = viz.program_of([g["train_step"], g["loss"]])
    seed = next(s for s in program.steps if s.name == "gradients/grad_ys:0")
    folded = program.replace(
        steps=tuple(s for s in program.steps if s is not seed),
        externals={**program.externals,
                   seed.output: passes.External("const", 1.0, (), seed.dtype)}).verify()
    loss = g["loss"].name
    assert viz.classify(program)[program.fetches[1]] == viz.LOSS
    assert viz.classify(folded)[program.fetches[1]] == viz.FORWARD
    assert viz.classify(folded, loss_names={loss})[program.fetches[1]] == viz.LOSS
    nodes, _, _ = parse_dot(viz.to_dot(folded))
    assert nodes[f"v{seed.output}"]["label"] == "1"


def test_the_example_writes_its_pictures(tmp_path, monkeypatch):
    import pathlib
    import runpy
    script = pathlib.Path(__file__).resolve().parent.parent / "examples" / "viz_seed.py"
    monkeypatch.setattr("sys.argv", [str(script), str(tmp_path / "out")])
    runpy.run_path(str(script), run_name="__main__")
    for name in ("seed", "seed_compare"):
        nodes, _, clusters = parse_dot((tmp_path / "out" / f"{name}.dot").read_text())
        kinds = {kind_of(a) for n, a in nodes.items() if "tooltip" in a}
        assert {"forward", "loss", "backward", "update"} <= kinds
        assert (tmp_path / "out" / f"{name}.svg").exists() == bool(viz.shutil.which("dot"))
    assert {"cluster_before", "cluster_after"} <= set(clusters)
