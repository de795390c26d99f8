import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from training.cli import main


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
