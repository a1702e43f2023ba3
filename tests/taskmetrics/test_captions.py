"""Captioning metrics: BLEU-1..4, ROUGE-L, CIDEr-D; METEOR and SPICE undefined (Java)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidlab.core.errors import DataError
from vidlab.taskmetrics.captions import JAVA, caption_metrics, tokenize

REFS = {"v1": ["a dog runs on the grass", "a brown dog is running"],
        "v2": ["two people are cooking in a kitchen", "people cook food"],
        "v3": ["a man plays the guitar on stage"]}


def test_identical_candidates_score_one():
    out = caption_metrics(REFS, {k: v[0] for k, v in REFS.items()})
    for n in range(1, 5):
        assert out[f"bleu_{n}"] == pytest.approx(1.0)
    assert out["rouge_l"] == pytest.approx(1.0)
    assert out["cider"] > 0
    assert out["captions"] == 3 and out["missing_candidates"] == 0


def test_meteor_and_spice_need_java():
    out = caption_metrics(REFS, {"v1": "a dog"})
    assert out["meteor"] is None and out["spice"] is None
    assert out["undefined"]["meteor"] == out["undefined"]["spice"] == JAVA
    assert "Java" in JAVA


def test_result_keys():
    out = caption_metrics(REFS, {"v1": "a dog", "v2": "people"})
    assert set(out) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider", "meteor",
                        "spice", "captions", "missing_candidates", "undefined"}
    assert out["captions"] == 2 and out["missing_candidates"] == 1
    assert set(out["undefined"]) == {"meteor", "spice"}


def test_tokenisation_lowercases_and_drops_punctuation():
    assert tokenize("A dog.") == tokenize("a dog") == ["a", "dog"]
    assert tokenize("  Well-known, the DOG's ball!  ") == ["wellknown", "the", "dogs", "ball"]
    refs = {"v1": ["A dog, running."], "v2": ["Cats sleep!"]}
    out = caption_metrics(refs, {"v1": "a dog running", "v2": "cats SLEEP"})
    assert out["bleu_1"] == pytest.approx(1.0) and out["rouge_l"] == pytest.approx(1.0)
    assert out["cider"] == caption_metrics(refs, {"v1": "A dog, running.",
                                                  "v2": "Cats sleep!"})["cider"]


def test_no_shared_word_scores_zero():
    out = caption_metrics(REFS, {k: "zebra xylophone quartz" for k in REFS})
    for key in ("bleu_1", "bleu_4", "rouge_l", "cider"):
        assert out[key] == 0.0, key


def test_empty_candidate_scores_zero():
    out = caption_metrics(REFS, {"v1": "", "v2": "..."})
    for key in ("bleu_1", "bleu_4", "rouge_l", "cider"):
        assert out[key] == 0.0, key
    mixed = caption_metrics(REFS, {"v1": "", "v2": REFS["v2"][0]})
    assert mixed["rouge_l"] == pytest.approx(0.5)


def test_cider_by_hand():
    # two ids with disjoint words, each candidate equal to its one reference: every n-gram has
    # df 1 of N = 2, weight log 2; n = 1, 2: cosine 1; n = 3, 4: no n-grams (0); mean 0.5, x 10
    out = caption_metrics({"a": ["red car"], "b": ["blue sky"]}, {"a": "red car", "b": "blue sky"})
    assert out["cider"] == pytest.approx(5.0, abs=1e-12)
    # a word in every id's references has idf weight 0
    out = caption_metrics({"a": ["the car"], "b": ["the sky"]}, {"a": "the", "b": "the"})
    assert out["cider"] == 0.0


def slow_cider(refs: dict[str, list[list[str]]], cands: dict[str, list[str]]) -> float:
    """CIDEr-D from Vedantam et al. 2015 (the COCO evaluator's variant), with plain loops."""
    ids = list(cands)

    def grams(tokens, n):
        out = {}
        for i in range(len(tokens) - n + 1):
            g = " ".join(tokens[i:i + n])
            out[g] = out.get(g, 0) + 1
        return out

    def df(g, n):
        count = 0
        for k in ids:
            if any(g in grams(r, n) for r in refs[k]):
                count += 1
        return count

    def tfidf(tokens, n):
        return {g: tf * math.log(len(ids) / max(1, df(g, n))) for g, tf in grams(tokens, n).items()}

    total = 0.0
    for k in ids:
        score = 0.0
        for n in range(1, 5):
            c = tfidf(cands[k], n)
            c_norm = math.sqrt(sum(v * v for v in c.values()))
            for ref in refs[k]:
                r = tfidf(ref, n)
                r_norm = math.sqrt(sum(v * v for v in r.values()))
                dot = 0.0
                for g in c:
                    if g in r:
                        dot += min(c[g], r[g]) * r[g]
                sim = dot / (c_norm * r_norm) if c_norm > 0 and r_norm > 0 else 0.0
                delta = len(cands[k]) - len(ref)
                score += sim * math.exp(-delta * delta / 72.0)
        total += 10.0 * score / 4 / len(refs[k])
    return total / len(ids)


@pytest.mark.parametrize("seed", range(10))
def test_cider_agrees_with_a_slow_reference(seed):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(int(rng.integers(4, 12)))]

    def sentence():
        return [str(w) for w in rng.choice(vocab, size=int(rng.integers(1, 12)))]

    refs = {f"id{i}": [sentence() for _ in range(int(rng.integers(1, 5)))]
            for i in range(int(rng.integers(2, 7)))}
    cands = {}
    for i, (k, rs) in enumerate(refs.items()):
        cands[k] = rs[int(rng.integers(len(rs)))] if i % 2 == 0 else sentence()
    out = caption_metrics({k: [" ".join(r) for r in rs] for k, rs in refs.items()},
                          {k: " ".join(c) for k, c in cands.items()})
    assert out["cider"] == pytest.approx(slow_cider(refs, cands), abs=1e-9)


def test_candidate_equal_to_each_reference_by_reference():
    # one id's candidate equals each of its references in turn; the corpus fixed otherwise
    refs = {"a": ["red car on road", "a red car"], "b": ["blue sky today"], "c": ["green tree"]}
    for ref in refs["a"]:
        cands = {"a": ref, "b": "blue sky", "c": "tree"}
        tokens = {k: [tokenize(r) for r in rs] for k, rs in refs.items()}
        expected = slow_cider(tokens, {k: tokenize(c) for k, c in cands.items()})
        assert caption_metrics(refs, cands)["cider"] == pytest.approx(expected, abs=1e-9)


def test_bleu_by_hand():
    # candidate "a dog runs fast" vs reference "a dog runs": p1 = 3/4, p2 = 2/3, no brevity
    # penalty (candidate longer); BLEU-2 = sqrt(3/4 * 2/3)
    out = caption_metrics({"x": ["A dog runs."], "y": ["cat"]}, {"x": "a dog runs fast"})
    assert out["bleu_1"] == pytest.approx(3 / 4)
    assert out["bleu_2"] == pytest.approx(math.sqrt(3 / 4 * 2 / 3))
    assert out["missing_candidates"] == 1
    assert out["cider"] is None and "at least 2" in out["undefined"]["cider"]


def test_rouge_l_best_reference():
    # LCS with "a dog runs fast": "a dog" (2 of 4 / 2 of 2) or "dog runs fast" (3 of 4 / 3 of 3)
    out = caption_metrics({"x": ["a dog", "the dog runs fast"]}, {"x": "a dog runs fast"})
    assert out["rouge_l"] == pytest.approx(2 * (3 / 4) * (3 / 4) / (3 / 4 + 3 / 4))


def test_nothing_to_score_is_undefined():
    out = caption_metrics(REFS, {})
    assert out["captions"] == 0 and out["missing_candidates"] == 3
    for key in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider", "meteor", "spice"):
        assert out[key] is None and key in out["undefined"]


def test_refusals():
    with pytest.raises(DataError, match=r"no reference for candidate 1 \(id 'v9'\)"):
        caption_metrics(REFS, {"v1": "a dog", "v9": "a cat"})
    with pytest.raises(DataError, match=r"candidate 0 \(id 'v1'\).*expected a list of strings"):
        caption_metrics({"v1": "a dog"}, {"v1": "a dog"})
    with pytest.raises(DataError, match=r"candidate 0 \(id 'v1'\) has an empty list"):
        caption_metrics({"v1": []}, {"v1": "a dog"})
    with pytest.raises(DataError, match=r"reference 1 of candidate 0 \(id 'v1'\)"):
        caption_metrics({"v1": ["a dog", None]}, {"v1": "a dog"})
    with pytest.raises(DataError, match=r"candidate 0 \(id 'v1'\) is a NoneType"):
        caption_metrics(REFS, {"v1": None})


# --- dense captioning (ActivityNet Captions' densevid_eval) -----------------------------------


def test_dense_perfect_predictions_score_one_at_every_threshold() -> None:
    from vidlab.taskmetrics.captions import dense_caption_metrics

    truth = {"a": [(0.0, 10.0, "a child crawls to the left"), (10.0, 20.0, "the child sits")],
             "b": [(0.0, 5.0, "a child waves at the camera")]}
    got = dense_caption_metrics(truth, truth)
    for name in ("bleu_1", "bleu_4", "rouge_l", "precision", "recall"):
        assert got[name] == pytest.approx(1.0), name
    assert got["cider"] is not None and got["cider"] > 5  # identical captions: high CIDEr-D
    assert got["meteor"] is None and "Java" in got["undefined"]["meteor"]
    assert set(got["by_tiou"]) == {"0.3", "0.5", "0.7", "0.9"} and got["captions"] == 3


def test_dense_a_segment_overlapping_by_a_third_counts_only_at_the_lowest_threshold() -> None:
    from vidlab.taskmetrics.captions import dense_caption_metrics

    truth = {"a": [(0.0, 10.0, "a child crawls to the left")]}
    shifted = {"a": [(5.0, 15.0, "a child crawls to the left")]}  # tIoU 5 / 15 = 1/3
    got = dense_caption_metrics(truth, shifted)
    assert got["by_tiou"]["0.3"]["bleu_1"] == pytest.approx(1.0)
    for threshold in ("0.5", "0.7", "0.9"):  # compared with the junk reference
        assert got["by_tiou"][threshold]["bleu_1"] == pytest.approx(0.0)
    assert got["bleu_1"] == pytest.approx(0.25)
    assert got["precision"] == pytest.approx(0.25) and got["recall"] == pytest.approx(0.25)
    # a truth video without predictions counts 0 for detection
    both = dense_caption_metrics({**truth, "b": [(0.0, 1.0, "x")]}, truth)
    assert both["recall"] == pytest.approx(0.5) and both["precision"] == pytest.approx(0.5)


def test_dense_each_overlapping_truth_caption_is_its_own_pair() -> None:
    """densevid_eval pairs a prediction with every truth caption it overlaps, one reference
    each: a caption right for one of two overlapped segments scores about half."""
    from vidlab.taskmetrics.captions import dense_caption_metrics

    truth = {"a": [(0.0, 10.0, "red ball"), (0.0, 10.0, "blue cube")]}
    got = dense_caption_metrics(truth, {"a": [(0.0, 10.0, "red ball")]})
    assert got["by_tiou"]["0.5"]["bleu_1"] == pytest.approx(0.5)
