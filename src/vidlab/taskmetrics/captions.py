"""Captioning: BLEU-1..4 and ROUGE-L (torchmetrics), CIDEr-D (own); METEOR and SPICE need Java.

Every metric sees the same tokens (:func:`tokenize`): the text lower-cased, every punctuation
character (Unicode category P*: ``. , ; : ! ? ' " - ( ) [ ] …``) removed, then split on white
space. This approximates the COCO caption evaluator's PTBTokenizer on plain English: both drop
punctuation; here a word's inner apostrophe or hyphen goes with the punctuation, so "dog's"
becomes "dogs" (PTB: "dog" "'s") and "well-known" becomes "wellknown" (PTB: one token, too).

* **BLEU-n** (n = 1..4): ``torchmetrics.functional.text.bleu_score`` on the tokens joined by
  spaces, corpus-level (clipped n-gram counts and lengths summed over every caption, brevity
  penalty from the closest reference length), uniform weights 1/n, no smoothing.
* **ROUGE-L**: ``torchmetrics.functional.text.rouge_score(rouge_keys="rougeL",
  accumulate="best")`` (no stemmer: nltk is not needed), fed the same tokens: per caption the
  LCS F1 (beta = 1) against the reference with the best F1, averaged over captions. The COCO
  evaluator's ``Rouge`` differs: beta = 1.2, and the best precision and best recall over the
  references, possibly from two different ones; so this ROUGE-L can differ from COCO's.
* **CIDEr-D** (:func:`cider_d`): written here from Vedantam et al., CVPR 2015, as the COCO
  evaluator computes it: for n = 1..4, a caption is the vector of its n-grams' tf-idf,
  ``count * (log(N) - log(max(1, df)))``, with N the number of caption ids scored and df the
  number of those ids whose reference set holds the n-gram; the similarity of the candidate to
  one reference is ``sum(min(c, r) * r) / (|c| |r|)`` over the candidate's n-grams (0 when a
  norm is 0), times ``exp(-(len(c) - len(r))² / (2 * 6²))`` with lengths in tokens; a caption's
  score is the mean over its references and over n, times 10; ``cider`` the mean over captions.
  (The evaluator measures length in bigrams; that only differs for an empty caption, whose
  similarity is 0 either way.) With a single caption id every idf weight is log(1) = 0, so CIDEr
  is undefined there (``None``), not 0.
* **METEOR**, **SPICE**: ``None``: their reference implementations run a Java jar.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence

from vidlab.core.errors import DataError

MAX_N = 4  # BLEU-1..4 and CIDEr's n-grams
CIDER_SIGMA = 6.0  # CIDEr-D's Gaussian length penalty
JAVA = ("needs Java (the reference implementations run a Java jar), which vidlab does not "
        "require")
METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider", "meteor", "spice")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` with every punctuation character (Unicode P*) removed."""
    lowered = text.lower()
    kept = "".join(ch for ch in lowered if not unicodedata.category(ch).startswith("P"))
    return kept.split()


def _ngrams(tokens: Sequence[str]) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, MAX_N + 1)
                   for i in range(len(tokens) - n + 1))


def cider_d(references: Sequence[Sequence[Sequence[str]]],
            candidates: Sequence[Sequence[str]]) -> list[float]:
    """CIDEr-D of each tokenised candidate against its tokenised references (one list of token
    lists per candidate); document frequencies come from these references alone."""
    if len(references) != len(candidates):
        raise ValueError("one reference set per candidate")
    doc_freq: Counter = Counter()
    for refs in references:
        doc_freq.update(set().union(*(_ngrams(r) for r in refs)))
    log_n = math.log(len(candidates)) if candidates else 0.0

    def vector(tokens: Sequence[str]) -> tuple[dict, list[float]]:
        weights = {g: tf * (log_n - math.log(max(1.0, doc_freq[g])))
                   for g, tf in _ngrams(tokens).items()}
        norms = [0.0] * MAX_N
        for g, w in weights.items():
            norms[len(g) - 1] += w * w
        return weights, [math.sqrt(s) for s in norms]

    scores = []
    for refs, cand in zip(references, candidates, strict=True):
        c_vec, c_norm = vector(cand)
        total = 0.0
        for ref in refs:
            r_vec, r_norm = vector(ref)
            sims = [0.0] * MAX_N
            for g, w in c_vec.items():
                r = r_vec.get(g, 0.0)
                sims[len(g) - 1] += min(w, r) * r
            penalty = math.exp(-((len(cand) - len(ref)) ** 2) / (2 * CIDER_SIGMA ** 2))
            total += sum(s / (c_norm[n] * r_norm[n]) if c_norm[n] and r_norm[n] else 0.0
                         for n, s in enumerate(sims)) / MAX_N * penalty
        scores.append(10.0 * total / len(refs))
    return scores


def _scored(references: Mapping[str, Sequence[str]],
            candidates: Mapping[str, str]) -> tuple[list[list[str]], list[str], int]:
    """The reference lists and candidates of the ids in both, checked; and the references'
    ids without a candidate."""
    if not isinstance(references, Mapping) or not isinstance(candidates, Mapping):
        raise DataError("references and candidates must be mappings from caption id to "
                        "captions")
    refs_out, cands_out = [], []
    for pos, (key, cand) in enumerate(candidates.items()):
        if key not in references:
            raise DataError(f"no reference for candidate {pos} (id {key!r})")
        if not isinstance(cand, str):
            raise DataError(f"candidate {pos} (id {key!r}) is a {type(cand).__name__}, "
                            "expected a string")
        refs = references[key]
        if isinstance(refs, str) or not isinstance(refs, Sequence):
            raise DataError(f"the references of candidate {pos} (id {key!r}) are a "
                            f"{type(refs).__name__}, expected a list of strings")
        if not refs:
            raise DataError(f"candidate {pos} (id {key!r}) has an empty list of references")
        for i, ref in enumerate(refs):
            if not isinstance(ref, str):
                raise DataError(f"reference {i} of candidate {pos} (id {key!r}) is a "
                                f"{type(ref).__name__}, expected a string")
        refs_out.append(list(refs))
        cands_out.append(cand)
    missing = sum(1 for key in references if key not in candidates)
    return refs_out, cands_out, missing


def caption_metrics(references: Mapping[str, Sequence[str]],
                    candidates: Mapping[str, str]) -> dict:
    """BLEU-1..4, ROUGE-L and CIDEr-D of candidate captions against reference captions.

    Args:
        references: caption id (a video id, or video id and segment) -> its reference captions.
        candidates: caption id -> the one candidate caption. Only ids in both are scored.

    Returns:
        ``bleu_1`` .. ``bleu_4``, ``rouge_l``, ``cider``, ``meteor``, ``spice`` (``None`` where
        undefined), ``captions`` (ids scored), ``missing_candidates`` (reference ids without a
        candidate, not scored), ``undefined`` (metric -> reason).

    Raises:
        DataError: a candidate id without references (``no reference for candidate N``), a
            candidate that is not a string, references that are not a non-empty list of strings.
    """
    refs, cands, missing = _scored(references, candidates)
    result: dict = dict.fromkeys(METRICS)
    undefined = {"meteor": JAVA, "spice": JAVA}
    result.update(captions=len(cands), missing_candidates=missing, undefined=undefined)
    if not cands:
        for name in METRICS[:6]:
            undefined[name] = "no caption id has both a candidate and references"
        return result

    from torchmetrics.functional.text import bleu_score, rouge_score

    ref_tokens = [[tokenize(r) for r in rs] for rs in refs]
    cand_tokens = [tokenize(c) for c in cands]
    ref_text = [[" ".join(t) for t in rs] for rs in ref_tokens]
    cand_text = [" ".join(t) for t in cand_tokens]
    for n in range(1, MAX_N + 1):
        result[f"bleu_{n}"] = float(bleu_score(cand_text, ref_text, n_gram=n, smooth=False))
    rouge = rouge_score(cand_text, ref_text, accumulate="best", rouge_keys="rougeL",
                        normalizer=lambda text: text, tokenizer=str.split)
    result["rouge_l"] = float(rouge["rougeL_fmeasure"])
    if len(cands) < 2:
        undefined["cider"] = ("CIDEr-D needs at least 2 caption ids: with one, every n-gram's "
                              "idf weight is log(1/1) = 0")
    else:
        result["cider"] = sum(cider_d(ref_tokens, cand_tokens)) / len(cands)
    return result


# ActivityNet Captions' dense evaluation (Krishna et al., ICCV 2017, ``densevid_eval``)
DENSE_TIOUS = (0.3, 0.5, 0.7, 0.9)
JUNK = "abc123!@#"  # the reference densevid_eval pairs with a caption that overlaps no truth


def _tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def dense_caption_metrics(references: Mapping[str, Sequence[tuple[float, float, str]]],
                          candidates: Mapping[str, Sequence[tuple[float, float, str]]], *,
                          tious: Sequence[float] = DENSE_TIOUS) -> dict:
    """Dense captioning: captions with times, as ActivityNet Captions' ``densevid_eval`` scores
    them.

    At each temporal-IoU threshold, every predicted (t0, t1, caption) is paired with each truth
    caption of its video whose segment overlaps it by at least the threshold (one pair per
    truth caption, that caption the only reference), or, overlapping none, with a junk reference
    (``abc123!@#``) that scores about 0; :func:`caption_metrics` scores all pairs. Each metric is
    the mean over the thresholds (``None`` where undefined at any). ``precision`` and ``recall``
    are the segment detection scores densevid_eval prints: per truth video, the share of its
    predicted (truth) segments that overlap a truth (predicted) one by more than the threshold,
    averaged over the truth's videos (a video without predictions counts 0) and thresholds.

    Args:
        references: video -> its truth (t0, t1, caption), seconds.
        candidates: video -> its predicted (t0, t1, caption).

    Returns:
        the :data:`METRICS`, ``precision``, ``recall``, ``by_tiou`` (threshold -> those values),
        ``captions`` (predicted captions), ``undefined`` (metric -> reason).
    """
    by_tiou: dict[str, dict] = {}
    for threshold in tious:
        refs: dict[int, list[str]] = {}
        cands: dict[int, str] = {}
        for video in sorted(candidates, key=str):
            for p0, p1, text in candidates[video]:
                start = len(cands)
                for g0, g1, truth in references.get(video, ()):
                    if _tiou((p0, p1), (g0, g1)) >= threshold:
                        refs[len(cands)], cands[len(cands)] = [truth], text
                if len(cands) == start:
                    refs[len(cands)], cands[len(cands)] = [JUNK], text
        scores = caption_metrics(refs, cands)
        scores.update(_detection(references, candidates, threshold))
        by_tiou[f"{threshold:g}"] = scores
    result: dict = {"by_tiou": by_tiou, "captions": sum(len(c) for c in candidates.values()),
                    "undefined": {"meteor": JAVA, "spice": JAVA}}
    for name in (*METRICS, "precision", "recall"):
        values = [scores[name] for scores in by_tiou.values()]
        result[name] = None if any(v is None for v in values) or not values else float(
            sum(values) / len(values))
        if result[name] is None and name not in result["undefined"]:
            result["undefined"][name] = next(
                (s["undefined"][name] for s in by_tiou.values() if name in s["undefined"]),
                "no threshold defines it")
    return result


def _detection(references: Mapping, candidates: Mapping, threshold: float) -> dict:
    precision, recall = [], []
    for video, truth in references.items():
        predicted = candidates.get(video, ())
        if not predicted or not truth:
            precision.append(0.0)
            recall.append(0.0)
            continue
        hit = [[_tiou((p0, p1), (g0, g1)) > threshold for g0, g1, _ in truth]
               for p0, p1, _ in predicted]
        precision.append(sum(any(row) for row in hit) / len(predicted))
        recall.append(sum(any(col) for col in zip(*hit, strict=True)) / len(truth))
    n = max(1, len(precision))
    return {"precision": sum(precision) / n, "recall": sum(recall) / n}
