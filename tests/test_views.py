"""Views of test-time augmentation: SPEC and --views, mapping answers back (property-tested), and
programs wrapped in a view's inverse, run in the real sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcbench.errors import TransformError
from arcbench.sandbox import SyncSandbox
from arcbench.tasks import MAX_SIDE, Pair, Task, TestPair
from arcbench.transforms import (
    SYMMETRIES,
    ColorPermutation,
    ReorderTrain,
    Symmetry,
    apply_to_grid,
)
from arcbench.views import View, parse_augment, view_of
from sandboxing import full_isolation  # noqa: F401  (a fixture)

cells = st.integers(min_value=0, max_value=9)


@st.composite
def grids(draw: st.DrawFn, most: int = 6) -> list[list[int]]:
    height = draw(st.integers(1, most))
    width = draw(st.integers(1, most))
    return [draw(st.lists(cells, min_size=width, max_size=width)) for _ in range(height)]


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    train = [
        Pair(input=draw(grids()), output=draw(grids())) for _ in range(draw(st.integers(1, 3)))
    ]
    test = [
        TestPair(input=draw(grids()), output=draw(grids())) for _ in range(draw(st.integers(1, 2)))
    ]
    return Task(id="t", train=train, test=test)


EVERY_VIEW = parse_augment("d8+colors:3").views
"""Every symmetry, each with no recolouring and with three colour permutations: 32 views."""

views = st.one_of(
    st.sampled_from(EVERY_VIEW),
    st.lists(
        st.one_of(
            st.sampled_from(sorted(SYMMETRIES)).map(Symmetry),
            st.permutations(list(range(10))).map(lambda p: ColorPermutation(tuple(p))),
        ),
        max_size=4,
    ).map(lambda chain: View(tuple(chain))),
)


# -- SPEC and --views --------------------------------------------------------------------------


def test_d8_gives_the_eight_symmetries_identity_first() -> None:
    augmentation = parse_augment("d8")
    assert augmentation.labels == [
        "identity",
        "rot90",
        "rot180",
        "rot270",
        "flip_h",
        "flip_v",
        "transpose",
        "antitranspose",
    ]
    assert augmentation.views[0].is_identity
    assert augmentation.views[0].ids == ["identity"]


def test_colors_keep_the_background_and_are_seeded() -> None:
    three = parse_augment("colors:3").views
    assert len(three) == 4
    assert three[0].is_identity
    permutations = [view.transforms[0] for view in three[1:]]
    assert all(isinstance(p, ColorPermutation) and p.keeps_background for p in permutations)
    assert len({p.id for p in permutations}) == 3
    assert parse_augment("colors:2").views == three[:3]  # the same draws, in the same order
    assert parse_augment("colors:3").views == three


def test_d8_plus_colors_is_the_product_and_an_explicit_list_adds_the_identity() -> None:
    product = parse_augment("d8+colors:2").labels
    assert len(product) == 8 * 3
    assert product[0] == "identity"
    assert sum("color:" in label for label in product) == 8 * 2
    assert sum("+color:" in label for label in product) == 7 * 2  # the identity is dropped
    assert parse_augment("rot90,flip_h+color:0213456789").labels == [
        "identity",
        "rot90",
        "flip_h+color:0213456789",
    ]
    assert parse_augment("reorder:1,0,rot90").labels == ["identity", "reorder:1,0", "rot90"]


def test_views_keeps_the_identity_and_draws_the_rest_the_same_way_every_time() -> None:
    every = parse_augment("d8").labels
    four = parse_augment("d8", 4).labels
    assert len(four) == 4
    assert four[0] == "identity"
    assert set(four) <= set(every)
    assert four == sorted(four, key=every.index)
    assert parse_augment("d8", 4).labels == four
    assert parse_augment("d8", 8).labels == every
    assert parse_augment("d8", 1).labels == ["identity"]


@pytest.mark.parametrize(
    ("spec", "count", "message"),
    [
        ("rot91", None, "unknown transform 'rot91'"),
        ("d8", 0, "--views 0: give at least 1"),
        ("d8", 9, "--views 9: --augment d8 gives 8 views"),
        ("rot90", 3, "gives 2 views"),
        ("colors:0", None, "N of colors:N is a whole number from 1 to 1000"),
        ("colors:x", None, "N of colors:N"),
        ("swap:0,0", None, "cannot be mapped back"),
        ("d8,,rot90", None, "an empty item"),
        ("", None, "give d8, colors:N"),
        ("rot90\nflip_h", None, "--augment 'rot90\\nflip_h': a line break"),
        ("colors:1000+colors:1000", None, "gives more than 10,000 views"),
        ("reorder:0,0", None, "reorder:0,0 is not an order of train pairs"),
        ("reorder:1,0+reorder:2,0,1", None, "reorders 2 and 3 train pairs, which no task has"),
        ("rot90+rot270", 2, "gives 1 views"),
    ],
)
def test_a_bad_spec_or_count_is_one_clear_error(spec: str, count: int | None, message: str) -> None:
    with pytest.raises(TransformError) as raised:
        parse_augment(spec, count)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_views_that_show_a_task_alike_are_one_view() -> None:
    """Two views showing the same task would ask one prompt twice and give its answer two votes:
    a chain that composes to another view's effect is dropped, the first written kept."""
    assert parse_augment("d8+d8+d8+d8+d8+d8+d8+d8+d8+d8").labels == parse_augment("d8").labels
    assert parse_augment("rot90+rot270,flip_h+flip_h").labels == ["identity"]
    assert parse_augment("rot90,rot90+flip_h+flip_h,rot180+rot270").labels == ["identity", "rot90"]
    assert parse_augment("reorder:1,0+reorder:1,0,reorder:1,0+rot90").labels == [
        "identity",
        "reorder:1,0+rot90",
    ]
    assert len(parse_augment("d8+colors:1000").views) == 8 * 1001


PROBE = Task(
    id="probe",
    train=[Pair(input=[[1, 0, 0], [0, 0, 0]], output=[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])],
    test=[TestPair(input=[[2]])],
)
"""A task two different views never show alike: its marked corner tells every symmetry apart,
and its row of every colour then tells every recolouring apart."""


@settings(max_examples=60)
@given(tasks(), views, views)
def test_a_view_is_dropped_only_when_a_kept_one_shows_every_task_alike(
    task: Task, one: View, other: View
) -> None:
    kept = parse_augment(f"{'+'.join(one.ids)},{'+'.join(other.ids)}").views
    for written in (one, other):
        assert any(view.apply(task) == written.apply(task) for view in kept)
        assert any(view.apply(PROBE) == written.apply(PROBE) for view in kept)
    assert len({str(view.apply(PROBE)) for view in kept}) == len(kept)


def test_the_views_of_d8_plus_colours_are_all_different() -> None:
    assert len({str(view.apply(PROBE)) for view in EVERY_VIEW}) == len(EVERY_VIEW) == 32


def test_a_record_names_its_view_by_transform_ids() -> None:
    for view in EVERY_VIEW:
        assert view_of(view.ids) == view
    assert view_of(["identity"]).is_identity


# -- mapping back ----------------------------------------------------------------------------


@given(tasks(), views, st.data())
def test_the_answer_to_a_view_maps_back_to_the_tasks_own_answer(
    task: Task, view: View, data: st.DataObject
) -> None:
    """A model right on the view answers the view's test output; mapped back, that is the
    original frame's answer, for every test input (a train reorder anywhere in the chain)."""
    order = data.draw(st.permutations(range(len(task.train))))
    at = data.draw(st.integers(0, len(view.transforms)))
    view = View((*view.transforms[:at], ReorderTrain(tuple(order)), *view.transforms[at:]))
    shown = view.apply(task)
    assert shown.train == [
        Pair(input=apply_to_grid(p.input, chain), output=apply_to_grid(p.output, chain))
        for chain in [view.transforms]
        for p in (task.train[i] for i in order)
    ]
    for original, asked in zip(task.test, shown.test, strict=True):
        assert asked.output is not None
        assert view.map_back(asked.output) == original.output


@given(grids(), views)
def test_map_back_undoes_the_view_on_any_grid(grid: list[list[int]], view: View) -> None:
    forward = grid
    for transform in view.transforms:
        forward = transform.apply_grid(forward)
    assert view.map_back(forward) == grid


@settings(max_examples=30)
@given(st.sampled_from(EVERY_VIEW), st.integers(1, MAX_SIDE), st.integers(1, MAX_SIDE))
def test_no_view_takes_a_grid_beyond_30x30(view: View, height: int, width: int) -> None:
    """Symmetries and recolourings keep sizes within 30; a view of the largest grids is a valid
    task still (validated again, as any task file would be)."""
    grid = [[(i + j) % 10 for j in range(width)] for i in range(height)]
    task = Task(id="big", train=[Pair(input=grid, output=grid)], test=[TestPair(input=grid)])
    shown = view.apply(task)
    Task.model_validate(shown.model_dump())
    shape = (len(shown.test[0].input), len(shown.test[0].input[0]))
    assert sorted(shape) == sorted((height, width))


def test_a_view_that_would_exceed_30x30_is_refused() -> None:
    """It cannot happen through a symmetry; were a grid to grow, it is refused, not sent."""
    grid = [[1] * MAX_SIDE]
    task = Task(id="wide", train=[Pair(input=grid, output=grid)], test=[TestPair(input=grid)])
    oversized = task.model_copy(
        update={"test": [TestPair.model_construct(input=[[1] * (MAX_SIDE + 1)], output=None)]}
    )
    with pytest.raises(TransformError, match="gives a 31x1 grid"):
        View((Symmetry("transpose"),)).apply(oversized)


# -- programs wrapped in a view, run in the sandbox --------------------------------------------

PROGRAMS = {
    # name: (source, the same function in this process, to compare with)
    "shift": (
        "def transform(grid):\n    return [row[-1:] + row[:-1] for row in grid]\n",
        lambda g: [row[-1:] + row[:-1] for row in g],
    ),
    "crop_recolour": (
        "import numpy as np\n\ndef solve_task(grid):\n"
        "    a = np.array(grid)\n    return (a[: max(1, len(grid) - 1)] + 1) % 10\n",
        lambda g: [[(c + 1) % 10 for c in row] for row in g[: max(1, len(g) - 1)]],
    ),
}


@pytest.fixture(scope="module")
def sandbox(full_isolation: None) -> Iterator[SyncSandbox]:  # noqa: F811
    with SyncSandbox("full", workers=1, timeout_s=5.0) as pool:
        yield pool


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(PROGRAMS)), views, grids())
def test_a_wrapped_program_answers_in_the_tasks_frame(
    sandbox: SyncSandbox, name: str, view: View, grid: list[list[int]]
) -> None:
    """Run in the sandbox on an input of the task's frame, the wrapped program gives what the
    program gives on the view's input, mapped back."""
    source, same = PROGRAMS[name]
    seen = grid
    for transform in view.transforms:
        seen = transform.apply_grid(seen)
    [outcome] = sandbox.check(view.wrap_program(source), [grid])
    assert outcome.status == "ok", outcome
    assert outcome.grid == view.map_back(same(seen))


def test_a_wrapped_program_keeps_its_own_helpers_and_failures(sandbox: SyncSandbox) -> None:
    """The wrapper's names cannot clash with the program's; a non-grid output and an error are
    reported as they would be without it; a program without an entry point still says so."""
    view = View((Symmetry("rot90"), ColorPermutation((0, 2, 1, 3, 4, 5, 6, 7, 8, 9))))
    clashing = (
        "def _rot90(x):\n    return 'mine'\n\n"
        "def forward(x):\n    return x\n\n"
        "def recolor(x):\n    return x\n\n"
        "def transform(grid):\n    assert _rot90(1) == 'mine'\n    return forward(grid)\n"
    )
    [kept] = sandbox.check(view.wrap_program(clashing), [[[1, 2]]])
    assert kept.status == "ok"
    assert kept.grid == [[1, 2]]  # the identity in any view maps back to the input
    [text] = sandbox.check(view.wrap_program("def transform(grid):\n    return 'no'\n"), [[[1]]])
    assert text.status == "wrong_format"
    [error] = sandbox.check(view.wrap_program("def transform(grid):\n    1 / 0\n"), [[[1]]])
    assert error.status == "error"
    assert "ZeroDivisionError" in (error.message or "")
    [missing] = sandbox.check(view.wrap_program("x = 1\n"), [[[1]]])
    assert missing.status == "error"
    assert "defines no function transform(grid) or solve_task(grid)" in (missing.message or "")
