import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ganxun.cli import main


@pytest.fixture(scope="module")
def diagnose_files(tiny_city, tmp_path_factory):
    """The tiny city's answers as generic CSVs: train before a date, pairs after it."""
    d = tmp_path_factory.mktemp("external")
    r = tiny_city.tables["responses"].rename(columns={"cadre_id": "user_id"})
    split = r["answered_on"].quantile(0.8)
    r[r["answered_on"] < split][["user_id", "item_id", "correct"]].to_csv(
        d / "train.csv", index=False
    )
    test = r[r["answered_on"] >= split][["user_id", "item_id", "correct"]]
    extra = pd.DataFrame(
        {
            "user_id": ["NEW-USER", test["user_id"].iloc[0]],
            "item_id": [test["item_id"].iloc[0], "NEW-ITEM"],
            "correct": [1, 0],
        }
    )
    test = pd.concat([test, extra], ignore_index=True)
    test[["user_id", "item_id"]].to_csv(d / "pairs.csv", index=False)
    tiny_city.tables["items"].to_csv(d / "items.csv", index=False)
    return d, test


@pytest.mark.parametrize("model", ["logistic", "stacked"])
def test_external_diagnose_writes_every_pair(diagnose_files, model):
    d, test = diagnose_files
    out_path = d / f"out-{model}.csv"
    code = main(
        [
            "external",
            "diagnose",
            "--train",
            str(d / "train.csv"),
            "--items",
            str(d / "items.csv"),
            "--predict",
            str(d / "pairs.csv"),
            "--out",
            str(out_path),
            "--model",
            model,
        ]
    )
    assert code == 0
    out = pd.read_csv(out_path, dtype={"user_id": str, "item_id": str})
    assert list(out.columns) == ["user_id", "item_id", "p_correct"] and len(out) == len(test)
    assert out["p_correct"].between(0, 1, inclusive="neither").all()
    assert roc_auc_score(test["correct"], out["p_correct"]) > 0.65


def test_external_diagnose_names_bad_input(tmp_path, capsys):
    (tmp_path / "train.csv").write_text("user_id,item_id,score\nu1,i1,1\n")
    (tmp_path / "items.csv").write_text("item_id,topic_id\ni1,t1\n")
    (tmp_path / "pairs.csv").write_text("user_id,item_id\nu1,i1\n")
    code = main(
        [
            "external",
            "diagnose",
            "--train",
            str(tmp_path / "train.csv"),
            "--items",
            str(tmp_path / "items.csv"),
            "--predict",
            str(tmp_path / "pairs.csv"),
            "--out",
            str(tmp_path / "o.csv"),
        ]
    )
    assert code == 2 and "TRAIN lacks column(s) correct" in capsys.readouterr().err


def test_external_recommend_filters_seen_and_handles_new_users(tiny_city, tmp_path):
    e = tiny_city.tables["enrollments"]
    train = pd.DataFrame(
        {
            "user_id": e["cadre_id"],
            "item_id": e["course_id"],
            "weight": e["progress"],
            "timestamp": e["enrolled_on"].dt.strftime("%Y-%m-%d"),
        }
    )
    train.to_csv(tmp_path / "train.csv", index=False)
    users = pd.DataFrame({"user_id": list(e["cadre_id"].unique()[:20]) + ["NEW-USER"]})
    users.to_csv(tmp_path / "users.csv", index=False)
    code = main(
        [
            "external",
            "recommend",
            "--train",
            str(tmp_path / "train.csv"),
            "--users",
            str(tmp_path / "users.csv"),
            "--k",
            "5",
            "--out",
            str(tmp_path / "out.csv"),
        ]
    )
    assert code == 0
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert list(out.columns) == ["user_id", "item_id", "rank"]
    assert (out.groupby("user_id").size() == 5).all() and set(out["user_id"]) == set(
        users["user_id"]
    )
    seen = set(zip(train["user_id"], train["item_id"], strict=True))
    assert not any((u, i) in seen for u, i in zip(out["user_id"], out["item_id"], strict=True))


def _recommend_with_a_spy(tiny_city, tmp_path, monkeypatch, flags) -> list:
    """Run ``external recommend`` on the tiny city's enrolments with ``flags``; return the
    (label_split, n_rankers) of every TwoStageRecommender.fit call."""
    from ganxun.models.recommender import TwoStageRecommender

    used = []
    original = TwoStageRecommender.fit

    def spy(self, x, *args, **kwargs):
        used.append((kwargs.get("label_split"), self.n_rankers))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(TwoStageRecommender, "fit", spy)
    e = tiny_city.tables["enrollments"]
    pd.DataFrame(
        {"user_id": e["cadre_id"], "item_id": e["course_id"], "timestamp": e["enrolled_on"]}
    ).to_csv(tmp_path / "train.csv", index=False)
    pd.DataFrame({"user_id": e["cadre_id"].unique()[:5]}).to_csv(
        tmp_path / "users.csv", index=False
    )
    args = ["external", "recommend", "--train", str(tmp_path / "train.csv"), "--users"]
    args += [str(tmp_path / "users.csv"), "--out", str(tmp_path / "out.csv")]
    assert main([*args, *flags]) == 0
    assert len(pd.read_csv(tmp_path / "out.csv")) == 50
    return used


@pytest.mark.parametrize(("flag", "expected"), [("auto", "time"), ("random", "random")])
def test_external_recommend_label_split_is_chosen_on_the_command_line(
    tiny_city, tmp_path, monkeypatch, flag, expected
):
    used = _recommend_with_a_spy(tiny_city, tmp_path, monkeypatch, ["--label-split", flag])
    assert [split for split, _ in used] == [expected]


@pytest.mark.parametrize(
    ("flags", "split", "rankers"),
    [([], "time", 1), (["--label-split", "random", "--rankers", "2"], "random", 2)],
)
def test_external_recommend_bags_rankers_on_random_splits(
    tiny_city, tmp_path, monkeypatch, flags, split, rankers
):
    assert _recommend_with_a_spy(tiny_city, tmp_path, monkeypatch, flags) == [(split, rankers)]
    assert len(pd.read_csv(tmp_path / "out.csv")) == 50


def test_external_recommend_time_split_needs_timestamps():
    from ganxun.training.external import recommend

    train = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"]})
    with pytest.raises(ValueError, match="needs a timestamp"):
        recommend(train, pd.DataFrame({"user_id": ["a"]}), label_split="time")


def _movie_like_files(tiny_city, tmp_path, with_time=True):
    e = tiny_city.tables["enrollments"]
    train = pd.DataFrame({"user_id": e["cadre_id"], "item_id": e["course_id"]})
    if with_time:
        train["timestamp"] = (e["enrolled_on"].astype("int64") // 10**9).to_numpy()
    train.to_csv(tmp_path / "train.csv", index=False)
    ids = sorted(train["item_id"].unique())
    items = pd.DataFrame(
        {
            "item_id": ids,
            "drama": [i % 2 for i in range(len(ids))],
            "comedy": [(i // 2) % 2 for i in range(len(ids))],
            "year": [1990 + i % 7 if i % 5 else "" for i in range(len(ids))],
        }
    )
    items.to_csv(tmp_path / "items.csv", index=False)
    pd.DataFrame({"user_id": e["cadre_id"].unique()[:8]}).to_csv(
        tmp_path / "users.csv", index=False
    )
    return train, items


@pytest.mark.parametrize("with_time", [True, False])
def test_external_recommend_with_and_without_timestamps_and_items(
    tiny_city, tmp_path, monkeypatch, with_time
):
    from ganxun.models.recommender import TwoStageRecommender

    train, _ = _movie_like_files(tiny_city, tmp_path, with_time)
    names = []
    original = TwoStageRecommender.fit

    def spy(self, *args, **kwargs):
        names.append(list(self.extra_feature_names))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TwoStageRecommender, "fit", spy)
    args = ["external", "recommend", "--train", str(tmp_path / "train.csv"), "--users"]
    args += [str(tmp_path / "users.csv"), "--out", str(tmp_path / "out.csv"), "--k", "4"]
    args += ["--items", str(tmp_path / "items.csv"), "--label-split", "random"]
    if with_time:
        args.append("--time-features")
    assert main(args) == 0
    expected = ["attr_match", "attr_match_lift", "year", "year_diff"]
    if with_time:
        expected = [*TimeContextNames, *expected]
    assert names == [expected]
    out = pd.read_csv(tmp_path / "out.csv", dtype=str)
    assert (out.groupby("user_id").size() == 4).all()
    seen = set(zip(train["user_id"].astype(str), train["item_id"].astype(str), strict=True))
    assert not any((u, i) in seen for u, i in zip(out["user_id"], out["item_id"], strict=True))


TimeContextNames = [
    "time_lift_0",
    "time_lift_3",
    "time_lift_14",
    "time_gap",
    "time_item_age",
    "time_user_span",
]


def test_external_recommend_time_features_need_timestamps(tiny_city, tmp_path, capsys):
    _movie_like_files(tiny_city, tmp_path, with_time=False)
    args = ["external", "recommend", "--train", str(tmp_path / "train.csv"), "--users"]
    args += [str(tmp_path / "users.csv"), "--out", str(tmp_path / "out.csv"), "--time-features"]
    assert main(args) == 2
    assert "time features need a timestamp column" in capsys.readouterr().err


def test_external_recommend_bad_items_row_names_row_and_field(tiny_city, tmp_path, capsys):
    _, items = _movie_like_files(tiny_city, tmp_path)
    items["year"] = items["year"].astype(str)
    items.loc[2, "year"] = "nineteen-ninety"
    items.to_csv(tmp_path / "items.csv", index=False)
    args = ["external", "recommend", "--train", str(tmp_path / "train.csv"), "--users"]
    args += [str(tmp_path / "users.csv"), "--out", str(tmp_path / "out.csv")]
    assert main([*args, "--items", str(tmp_path / "items.csv")]) == 2
    err = capsys.readouterr().err
    assert "ITEMS row 3, column year: not a number: 'nineteen-ninety'" in err
    assert not (tmp_path / "out.csv").exists()


def test_item_attributes_align_with_the_catalogue_and_reject_repeats():
    from ganxun.training.external import item_attributes

    items = pd.DataFrame(
        {"item_id": ["b", "a", "zz"], "g": ["1", "0", "1"], "year": ["1999", "", "2001"]}
    )
    got = item_attributes(items, np.array(["a", "b", "c"]))
    np.testing.assert_array_equal(got["flags"][:, 0], [0.0, 1.0, 0.0])  # c: absent, no flag
    assert got["number_names"] == ["year"]
    np.testing.assert_array_equal(got["numbers"][:, 0], [np.nan, 1999.0, np.nan])
    with pytest.raises(ValueError, match="ITEMS row 2, column item_id: 'b' repeats"):
        item_attributes(pd.DataFrame({"item_id": ["b", "b"], "g": ["1", "0"]}), np.array(["b"]))
    with pytest.raises(ValueError, match="no attribute column"):
        item_attributes(pd.DataFrame({"item_id": ["b"]}), np.array(["b"]))
