"""The JSON API's request and response models."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from personsearch.serve.service import GalleryFacts

MAX_TOP_K = 100


class HitOut(BaseModel):
    rank: int = Field(description="1 = best")
    score: float = Field(description="cosine similarity to the query")
    detection_score: float = Field(description="how sure the detector was that this is a person")
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in the picture's pixels")
    picture: str = Field(description="picture name in the gallery (video frames: 'video.avi#frame000120')")
    picture_url: str = Field(description="where the page fetches the picture")
    frame: int | None = Field(None, description="video frame number")
    time_s: float | None = Field(None, description="seconds from the start of the video")
    timestamp: str | None = Field(None, description="time_s as H:MM:SS.s")


class SearchResponse(BaseModel):
    query: str = Field(description="'image' or 'text'")
    top_k: int
    elapsed_ms: float
    hits: list[HitOut]


class TextQuery(BaseModel):
    description: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(10, ge=1, le=MAX_TOP_K)


@dataclass(frozen=True)
class GalleryInfo(GalleryFacts):
    """The service's facts about its gallery and the app's request limits."""

    max_upload_bytes: int
    max_top_k: int = MAX_TOP_K


class PictureList(BaseModel):
    total: int
    offset: int
    names: list[str]


class ErrorOut(BaseModel):
    detail: str
