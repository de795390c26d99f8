import pandas as pd
import pytest

from ganxun.features.contracts import validate
from ganxun.training.sources import read_tables, read_truth, write_tables, write_truth

SMALL = ["topics", "units", "cadres", "institutions", "teachers", "courses", "classes"]


@pytest.mark.parametrize("target", ["csv", "parquet", "xlsx", "sqlite"])
def test_round_trip_keeps_every_valid_row(tiny_city, tmp_path, target):
    tables = {n: tiny_city.tables[n] for n in SMALL}
    if target == "sqlite":
        where = f"sqlite:///{tmp_path / 'city.db'}"
        write_tables(tables, where)
    else:
        where = tmp_path
        write_tables(tables, where, target)
    back = validate(read_tables(where))
    for name in SMALL:
        assert not [p for p in back.problems if p.table == name], name
        got = back.tables[name].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            got, validate(tables).tables[name].reset_index(drop=True), check_dtype=False
        )


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_tables(tmp_path / "nowhere")


def test_truth_round_trip(tiny_city, tmp_path):
    write_truth(tiny_city.truth, tmp_path)
    back = read_truth(tmp_path)
    assert back["mastery"].shape == tiny_city.truth["mastery"].shape
    assert list(back["topic_ids"]) == list(tiny_city.truth["topic_ids"])
    assert read_truth(tmp_path / "absent") is None
    assert set(back["params"]) == set(tiny_city.truth["params"])
