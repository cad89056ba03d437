"""Relevance feedback ("more like these, less like those") and query expansion without clicks.

Arrays in, arrays out: nothing here reads the catalog or the index. The caller checks the marks,
fetches the vectors of the query and of the marked items, and searches the index with the refined
query::

    like, unlike = validate_marks(like_ids, unlike_ids, known_ids)   # FeedbackError -> a 4xx answer
    refined = Feedback().fit(query_vecs, like_vecs, unlike_vecs, background,  # (m,d) (a,d) (b,d) (1,d)|(n,d)|()
                             projection=(mean, matrix))  # optional: the encoder's copy-detection projection
    scores, ids = index.search(refined.query[None], k)   # the refined order: one search, no re-rank

``background`` is optional: the mean of the collection's vectors (one row, kept by the caller) or a
sample of it; without it the default method measures about the same (bench/RESULTS.md, issue 18).
The liked items themselves come back near the top; whether to show them is the caller's choice.
:meth:`Refined.score` scores any vectors the same way (for a shortlist from another source).

Methods (bench/feedback.py measures them against each other, same run):

- ``"rocchio"``: q' = alpha q + beta mean(like) - gamma mean(unlike), the SMART weights 1, 0.75, 0.15.
- ``"ridge"``: a least-squares linear classifier (LS-SVM; ridge regression on +1/-1
  targets) fitted on the marks: the query and the liked items +1, the unliked items and the centroid of
  the background (a sample of the collection) -1. Solved in the dual, so it costs a (m x m) system for
  m marks, not (d x d): ~0.1 ms for 20 marks. Its unit weight vector is added to a unit Rocchio query
  (weights 1, 1, 0.5) with weight ``mix``. Unlike Rocchio's means, it does not count near-duplicate
  marks twice and it weighs each mark by what the others have not already explained. The result is
  still ONE vector, so the refined search is one index search (a linear score; the bias does not
  change the order). A liblinear SVM (scikit-learn ``LinearSVC``) on the marks plus 256 sampled
  negatives, exemplar-SVM style, measured no better on the tuning sets and took ~30 ms to fit.
- ``"ridge+copy"`` (the default): ``"ridge"`` plus the same classifier fitted in a second, linear space,
  ``projection=(mean, matrix)``: p(v) = normalise((v - mean) @ matrix), the copy-detection projection
  shipped for the encoder (``pixseek.compare.projection``; learned whitening, where an edited copy is
  closer to its original than in the raw space). The projected classifier u scores p(v) . u; with the
  norm |(v - mean) @ matrix| taken as one constant (the median over the fitted rows), that is linear
  in v: v . (matrix @ u) / norm minus a constant, so it maps back to ONE raw-space vector, added with weight ``copy_weight``: the
  refined search stays one index search of the stored (raw) vectors. Without a projection it is
  ``"ridge"`` (and says so in :attr:`Refined.method`). On the photo dev set it closes 70-79 % of the
  residual gap after one round where ``"ridge"`` closes 63-68 %; emoji about unchanged.

Query expansion (no clicks): :func:`alpha_qe` (alpha-weighted average query expansion, Radenovic et al.
2018) and :func:`dba` (database-side augmentation, the same average applied to every stored vector).
"""
from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

import numpy as np

from pixseek.errors import FeedbackError

METHODS = ("rocchio", "ridge", "ridge+copy")
MAX_MARKS = 20


def _ids(values: Iterable, what: str) -> list[int]:
    out = []
    for v in values:
        try:
            i = int(v)
        except (TypeError, ValueError):
            raise FeedbackError(f"{what}: item ids are integers, got {v!r}") from None
        if i != v and not isinstance(v, str):
            raise FeedbackError(f"{what}: item ids are integers, got {v!r}")
        out.append(i)
    return list(dict.fromkeys(out))


def validate_marks(like_ids: Iterable[int], unlike_ids: Iterable[int], known_ids: Iterable[int],
                   max_marks: int = MAX_MARKS) -> tuple[list[int], list[int]]:
    """Check the marks of one refined search -> (like ids, unlike ids), each de-duplicated in order.

    ``known_ids``: anything that answers ``in`` (a set, a range, the ids the catalog returned for the
    marks) or an iterable of ids. Raises :class:`FeedbackError` for a mark that is not in ``known_ids``,
    more than ``max_marks`` marks in all, or an id marked both like and unlike."""
    like, unlike = _ids(like_ids, "like"), _ids(unlike_ids, "unlike")
    if len(like) + len(unlike) > max_marks:
        raise FeedbackError(f"{len(like) + len(unlike)} marks; at most {max_marks} (like and unlike together)")
    both = sorted(set(like) & set(unlike))
    if both:
        raise FeedbackError(f"marked both like and unlike: {', '.join(map(str, both))}")
    known = known_ids if isinstance(known_ids, Container) else set(int(i) for i in known_ids)
    unknown = [i for i in like + unlike if i not in known]
    if unknown:
        raise FeedbackError(f"unknown item id(s): {', '.join(map(str, unknown))}")
    return like, unlike


def _rows(x, dim: int | None, what: str) -> np.ndarray:
    a = np.asarray(x, np.float32)
    if a.size == 0:
        return a.reshape(0, dim or 0)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or (dim is not None and a.shape[1] != dim):
        raise FeedbackError(f"{what}: expected vectors of dimension {dim}, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise FeedbackError(f"{what}: vectors contain NaN or infinity")
    return a


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


@dataclass(frozen=True)
class Refined:
    """A refined query: search the index with :attr:`query`; :meth:`score` ranks any vectors with it."""

    query: np.ndarray  # (d,) unit float32
    method: str

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """(n, d) vectors -> (n,) scores, higher is better (the inner product with :attr:`query`)."""
        return np.asarray(vectors, np.float32) @ self.query


@dataclass(frozen=True)
class Feedback:
    """A re-ranker from marks; :meth:`fit` is all there is (no state between calls).

    ``alpha``/``beta``/``gamma``: the Rocchio weights (query, mean of likes, mean of unlikes) of
    ``"rocchio"``; ``"ridge"`` uses 1, 1, 0.5 for its Rocchio part. ``ridge``: the regulariser of the
    least-squares classifier; ``mix``: the weight of its unit normal added to the unit Rocchio query;
    ``copy_weight``: the weight of the ``"ridge+copy"`` part fitted in the ``projection`` space. Defaults tuned on bench/feedback.py's tuning sets (photos "cal" split, emoji seed 2), not on the
    sets it reports."""

    method: str = "ridge+copy"
    alpha: float = 1.0
    beta: float = 0.75
    gamma: float = 0.15
    ridge: float = 0.1
    mix: float = 1.0
    copy_weight: float = 0.5

    def __post_init__(self):
        if self.method not in METHODS:
            raise FeedbackError(f"unknown feedback method '{self.method}'; known: {', '.join(METHODS)}")

    def fit(self, query, like=(), unlike=(), background=(), projection=None) -> Refined:
        """query (m, d) or (d,): the query vector(s) (image and/or text; averaged); like (a, d), unlike
        (b, d): the marked items' vectors; background (n, d): a sample of the collection (only its mean
        is used, by ``"ridge"``) or, cheaper, that mean precomputed as one row; projection (mean (d,),
        matrix (d, k)) or a prepared :class:`Projection`: the second space of ``"ridge+copy"`` (ignored by the
        other methods).

        With no marks the answer is the (averaged, unit) query itself."""
        query = _rows(query, None, "query")
        d = query.shape[1] if len(query) else None
        like, unlike = _rows(like, d, "like"), _rows(unlike, d, "unlike")
        d = d or (like.shape[1] if len(like) else unlike.shape[1] if len(unlike) else None)
        if d is None:
            raise FeedbackError("nothing to refine: no query vector and no marks")
        background = _rows(background, d, "background")
        like, unlike = like.reshape(-1, d), unlike.reshape(-1, d)
        nq, na, nb = min(len(query), 1), len(like), len(unlike)
        q0 = _unit(query.mean(0)) if nq else np.zeros(d, np.float32)
        if not (na or nb):
            return Refined(q0, self.method)
        if self.method == "rocchio":
            v = self.alpha * q0 + (self.beta * like.mean(0) if na else 0) - (self.gamma * unlike.mean(0) if nb else 0)
            return Refined(_unit(np.asarray(v, np.float32)), self.method)
        parts = [q0[None]] if nq else []
        parts += [like, unlike]
        if len(background):
            parts.append(background.mean(0, keepdims=True) if len(background) > 1 else background)
        x = np.concatenate(parts)  # every refined query is a combination of these rows
        v = _ridge(x, nq, na, nb, self.ridge, self.mix)
        if self.method == "ridge" or projection is None or self.copy_weight == 0:
            return Refined(v, "ridge")
        proj = projection if isinstance(projection, Projection) else Projection(*projection)
        if proj.dim != d:
            raise FeedbackError(f"projection: expected mean ({d},) and matrix ({d}, k), got {proj.mean.shape} "
                                f"and {proj.matrix.shape}")
        y = proj(x)  # the rows in the copy-detection space, before their normalisation
        norms = np.maximum(np.linalg.norm(y, axis=1), 1e-12)
        u = _ridge(y / norms[:, None], nq, na, nb, self.ridge, self.mix)
        # the score <p(v), u> with p(v) = (v - mean) @ matrix / |...| is linear in v once |...| is taken as
        # the marks' typical norm: v @ (matrix @ u) / scale, minus a constant (the mean) that no order sees
        w = v + self.copy_weight * (proj.matrix @ u) / np.float32(np.median(norms))
        return Refined(_unit(w.astype(np.float32)), self.method)


ONE_THREAD_MNK = 65536 * 4  # OpenBLAS multiplies (m x k) @ (k x n) on one thread up to m * n * k = this


@dataclass(frozen=True, eq=False)
class Projection:
    """The second space of ``"ridge+copy"``: p(v) = (v - mean) @ matrix, prepared once (a library keeps
    one): ``matrix`` is also held as contiguous column blocks small enough that OpenBLAS multiplies the
    <= MAX_MARKS + 2 fitted rows by each on one thread. As one (22 x 1280) @ (1280 x 256) product it
    is threaded, and its threads stalled behind FAISS's and other processes' on a busy 2-core machine
    (a 0.2 ms product took 30-110 ms, median, in bench/feedback.py); contiguous blocks take ~0.3 ms
    always, views of the matrix ~0.5 ms (bench/RESULTS.md, issue 18)."""

    mean: np.ndarray    # (d,)
    matrix: np.ndarray  # (d, k)
    blocks: tuple[np.ndarray, ...] = field(init=False, repr=False)

    def __post_init__(self):
        mean, matrix = np.asarray(self.mean, np.float32), np.asarray(self.matrix, np.float32)
        if mean.ndim != 1 or matrix.ndim != 2 or matrix.shape[0] != mean.shape[0]:
            raise FeedbackError(f"projection: expected mean (d,) and matrix (d, k), got {mean.shape} and {matrix.shape}")
        step = max(1, ONE_THREAD_MNK // ((MAX_MARKS + 2) * matrix.shape[0]))
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "blocks", tuple(np.ascontiguousarray(matrix[:, j:j + step])
                                                 for j in range(0, matrix.shape[1], step)))

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(n, d) rows -> (n, k) = (x - mean) @ matrix, block by block (see the class doc)."""
        x = x - self.mean
        return np.concatenate([x @ b for b in self.blocks], axis=1)


def _ridge(x: np.ndarray, nq: int, na: int, nb: int, ridge: float, mix: float) -> np.ndarray:
    """The unit "ridge" query for rows ``x`` = [query (nq <= 1), like (na), unlike (nb), background]: a
    unit Rocchio query (1, 1, 0.5) plus ``mix`` times the unit normal of the least-squares classifier
    (query and likes +1, the rest -1), solved in the dual: w = x.T @ (gram + ridge I)^-1 y."""
    alpha, beta, gamma = 1.0, 1.0, 0.5  # the Rocchio part of "ridge"
    c = np.zeros(len(x), np.float64)
    c[:nq] = alpha
    c[nq:nq + na] = beta / max(na, 1)
    c[nq + na:nq + na + nb] = -gamma / max(nb, 1)
    gram = (x @ x.T).astype(np.float64)
    y = -np.ones(len(x))
    y[:nq + na] = 1.0
    a = np.linalg.solve(gram + ridge * np.eye(len(x)), y)
    c = c / np.sqrt(max(c @ gram @ c, 1e-24)) + mix * a / np.sqrt(max(a @ gram @ a, 1e-24))
    return (c @ x).astype(np.float32) / np.float32(np.sqrt(max(c @ gram @ c, 1e-24)))


# -- query expansion without clicks ---------------------------------------------------------------
def alpha_qe(query: np.ndarray, neighbours: np.ndarray, scores: np.ndarray, alpha: float = 3.0,
             n: int | None = None) -> np.ndarray:
    """alpha-QE: query (d,) or (m, d); neighbours (n, d) or (m, n, d) its nearest stored vectors, best
    first, with their similarities ``scores`` (n,) or (m, n) -> the expanded unit query/queries:
    q + sum_i max(s_i, 0)^alpha x_i over the top ``n`` (all given when None)."""
    q = np.asarray(query, np.float32)
    nb, s = np.asarray(neighbours, np.float32), np.asarray(scores, np.float32)
    single = q.ndim == 1
    if single:
        q, nb, s = q[None], nb[None], s[None]
    if n is not None:
        nb, s = nb[:, :n], s[:, :n]
    w = np.clip(np.nan_to_num(s, nan=0.0, neginf=0.0), 0, None) ** alpha
    out = q + np.einsum("mn,mnd->md", w, nb)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out[0] if single else out


def dba(vectors: np.ndarray, neighbour_ids: np.ndarray, neighbour_scores: np.ndarray, alpha: float = 3.0,
        n: int | None = None) -> np.ndarray:
    """Database-side augmentation: vectors (N, d); neighbour_ids (N, k) row i's nearest stored rows
    (positions into ``vectors``; itself and -1 padding are skipped), neighbour_scores (N, k) -> (N, d)
    unit vectors x_i + sum_j max(s_ij, 0)^alpha x_j over the top ``n``."""
    x = np.asarray(vectors, np.float32)
    ids, s = np.asarray(neighbour_ids, np.int64), np.asarray(neighbour_scores, np.float32)
    if n is not None:
        ids, s = ids[:, :n], s[:, :n]
    keep = (ids >= 0) & (ids != np.arange(len(x))[:, None])
    w = np.where(keep, np.clip(np.nan_to_num(s, nan=0.0, neginf=0.0), 0, None) ** alpha, 0.0).astype(np.float32)
    out = x + np.einsum("nk,nkd->nd", w, x[np.where(keep, ids, 0)])
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out
