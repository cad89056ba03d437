"""Typed request and response bodies (they are the OpenAPI schema)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Label(BaseModel):
    label: str
    prob: float


class Item(BaseModel):
    id: int = Field(description="Stored vector id (stable while the file is unchanged).")
    path: str
    name: str
    folder: str = Field(description="Folder relative to its indexed root.")
    width: int | None = None
    height: int | None = None
    size: int
    modified: str = Field(description="File modification time, ISO 8601 (UTC).")
    thumb_url: str
    image_url: str
    labels: list[Label] = []
    t_sec: float | None = Field(None, description="A video frame: its time in seconds (name says `file @ hh:mm:ss.s`).")


class Copy(BaseModel):
    id: int
    path: str
    score: float


class Hit(Item):
    score: float = Field(description="Cosine similarity in [-1, 1]; higher is more similar.")
    rank: int
    weak: bool = Field(False, description="Below the model's calibrated relevance floor: a weak match.")
    copies: list[Copy] = Field([], description="Near-duplicates stacked under this hit (not counted in k).")
    t_start: float | None = Field(None, description="A video hit merged over a shot: the shot's first sampled time.")
    t_end: float | None = None


class QueryInfo(BaseModel):
    kind: Literal["image", "item", "text", "tag"]
    name: str | None = None
    width: int | None = None
    height: int | None = None
    text: str | None = None
    item_id: int | None = None
    matched_labels: list[Label] = []
    warnings: list[str] = Field([], description="Text queries: words that were ignored, no strong match.")


class SearchResponse(BaseModel):
    query: QueryInfo
    hits: list[Hit]
    took_ms: float
    index_size: int


class ItemList(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[Item]


class Facet(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    tags: list[Facet]
    folders: list[Facet]
    oldest: str | None = None
    newest: str | None = None


class CompareSide(BaseModel):
    name: str
    width: int
    height: int


class CompareResponse(BaseModel):
    similarity: float = Field(description="In [0, 1]; 1 is the same picture.")
    verdict: str | None = Field(None, description="identical | near-duplicate | similar | different, when known.")
    method: str
    a: CompareSide
    b: CompareSide
    details: dict = {}


class IndexRequest(BaseModel):
    path: str = Field(description="File or folder inside an indexed root (relative paths are taken under the first root).")
    prune: bool = False


class IndexReport(BaseModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    errors: list[dict]
    seconds: float
    items: list[Item] = []


class RemoveResponse(BaseModel):
    removed: int


class DuplicateGroup(BaseModel):
    items: list[Item]
    score: float | None = None
    tier: str | None = Field(None, description="exact | copy | variant")
    keeper: int | None = Field(None, description="Item id of the copy to keep (largest true resolution, then lossless, then largest file).")


class MoveRequest(BaseModel):
    keep: int = Field(description="Item id to keep (stays in place).")
    move: list[int] = Field(min_length=1, max_length=500, description="Item ids of the other copies: moved into <db>.moved/ and dropped from the library.")


class MoveResponse(BaseModel):
    moved: list[dict]


class DuplicatesResponse(BaseModel):
    groups: list[DuplicateGroup]
    method: str


class Features(BaseModel):
    text_search: str = Field(description="'text' when pixseek.text is present, else 'tags' (ImageNet label match).")
    compare: str
    duplicates: bool


class Info(BaseModel):
    model_id: str
    files: int
    vectors: int
    index: str
    read_only: bool
    max_upload_bytes: int
    max_pixels: int
    features: Features


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready", "starting"]
    index_size: int
    catalog_vectors: int
