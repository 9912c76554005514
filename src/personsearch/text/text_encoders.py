"""Text encoders by name: BERT-base, the offline MiniLM-L6, and a small Transformer from scratch.

All three are the BERT architecture written here in plain PyTorch with the
parameter names of the reference BERT weights, so those weights load directly.
Every encoder is split into `stem` (embeddings + first layer) and `head` (the
remaining layers + pooling) so token features can be mixed after the first
layer (feature-level mixup). With `checkpointing` set (by the training model),
`head` recomputes its layers in the backward pass instead of storing their activations.
With `trainable_layers` K set, the embeddings and all but the last K layers are frozen at
their loaded weights, so a trained model differs from its base weights only in those K layers,
the pooler and whatever sits on top (the shipped text model stores just that difference).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from personsearch.registry import Registry
from personsearch.text.tokenizer import offline_model_folder
from personsearch.text.weights import read_state_dict

TEXT_ENCODERS: Registry = Registry("text encoder")
POOLINGS = ("cls", "mean", "pooler")
BERT_VOCAB_SIZE = 30522


def list_text_encoders() -> list[str]:
    return TEXT_ENCODERS.names()


def build_text_encoder(name: str, **kwargs) -> "BertTextEncoder":
    return TEXT_ENCODERS.get(name)(**kwargs)


class BertEmbeddings(nn.Module):
    def __init__(self, *, vocab_size: int, hidden: int, max_positions: int, type_vocab_size: int, dropout: float):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_positions, hidden)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)
        x = self.word_embeddings(token_ids) + self.position_embeddings(positions)[None]
        x = x + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class _SelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class _DenseNorm(nn.Module):
    def __init__(self, in_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(in_dim, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class _Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.self = _SelfAttention(hidden, heads)
        self.output = _DenseNorm(hidden, hidden, dropout)
        self.attn_dropout = dropout


class _Intermediate(nn.Module):
    def __init__(self, hidden: int, inner: int):
        super().__init__()
        self.dense = nn.Linear(hidden, inner)


class BertLayer(nn.Module):
    """Post-norm Transformer layer with BERT's parameter names."""

    def __init__(self, *, hidden: int, heads: int, inner: int, dropout: float):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.attention = _Attention(hidden, heads, dropout)
        self.intermediate = _Intermediate(hidden, inner)
        self.output = _DenseNorm(inner, hidden, dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        att = self.attention.self
        b, n, d = x.shape
        h = att.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, h, d // h).transpose(1, 2)

        # attention_mask: (B, N) float in [0, 1] (mixup can make it fractional); 0 = padding.
        bias = torch.log(attention_mask.clamp_min(1e-6).to(x.dtype))[:, None, None, :]
        drop = self.attention.attn_dropout if self.training else 0.0
        ctx = F.scaled_dot_product_attention(split(att.query(x)), split(att.key(x)), split(att.value(x)),
                                             attn_mask=bias, dropout_p=drop)
        x = self.attention.output(ctx.transpose(1, 2).reshape(b, n, d), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class _Encoder(nn.Module):
    def __init__(self, layers: list[BertLayer]):
        super().__init__()
        self.layer = nn.ModuleList(layers)


class _Pooler(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, cls: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(cls))


class BertTextEncoder(nn.Module):
    """BERT-architecture encoder: `encode(token_ids, attention_mask) -> (B, out_dim)`."""

    checkpointing = False

    def __init__(
        self,
        *,
        hidden: int = 768,
        layers: int = 12,
        heads: int = 12,
        inner: int = 3072,
        vocab_size: int = BERT_VOCAB_SIZE,
        max_positions: int = 512,
        type_vocab_size: int = 2,
        dropout: float = 0.1,
        pooling: str = "cls",
        weights: str | None = None,
        trainable_layers: int | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid choices: {', '.join(POOLINGS)}")
        if layers < 1:
            raise ValueError("a text encoder needs at least one layer")
        self.pooling = pooling
        self.out_dim = hidden
        self.embeddings = BertEmbeddings(vocab_size=vocab_size, hidden=hidden, max_positions=max_positions,
                                         type_vocab_size=type_vocab_size, dropout=dropout)
        self.encoder = _Encoder([BertLayer(hidden=hidden, heads=heads, inner=inner, dropout=dropout)
                                 for _ in range(layers)])
        self.pooler = _Pooler(hidden)
        self.apply(_init_bert)
        if weights is not None:
            load_bert_weights(self, weights)
        if trainable_layers is not None:
            self.freeze_below(int(trainable_layers))

    def freeze_below(self, trainable_layers: int) -> None:
        """Stops gradients to the embeddings and to every layer but the last `trainable_layers`."""
        layers = len(self.encoder.layer)
        if not 0 <= trainable_layers <= layers:
            raise ValueError(f"trainable_layers must be between 0 and {layers}, got {trainable_layers}")
        for module in [self.embeddings, *self.encoder.layer[:layers - trainable_layers]]:
            module.requires_grad_(False)

    def stem(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token features after the embeddings and the first layer: (B, N, hidden)."""
        return self.encoder.layer[0](self.embeddings(token_ids), attention_mask.float())

    def head(self, tokens: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mask = attention_mask.float()
        recompute = self.checkpointing and self.training and torch.is_grad_enabled()
        for layer in self.encoder.layer[1:]:
            tokens = checkpoint(layer, tokens, mask, use_reentrant=False) if recompute else layer(tokens, mask)
        if self.pooling == "mean":
            w = mask[..., None]
            return (tokens * w).sum(1) / w.sum(1).clamp_min(1e-6)
        if self.pooling == "pooler":
            return self.pooler(tokens[:, 0])
        return tokens[:, 0]

    def forward(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(token_ids, attention_mask), attention_mask)


def _init_bert(module: nn.Module) -> None:
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def load_bert_weights(encoder: BertTextEncoder, weights: str) -> None:
    """`offline-minilm` (packaged), `hf:NAME` (downloads from the model hub, explicit), or a weights
    file (bare state dict or inside a checkpoint's "model" / "state_dict" entry)."""
    if weights == "offline-minilm":
        state = read_state_dict(offline_model_folder() / "model.safetensors")
    elif weights.startswith("hf:"):
        from transformers import AutoModel

        state = AutoModel.from_pretrained(weights[3:]).state_dict()
    else:
        state = read_state_dict(Path(weights))
    state = {k.removeprefix("bert."): v for k, v in state.items() if not k.endswith("position_ids")}
    own = encoder.state_dict()
    missing = sorted(set(own) - set(state))
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        raise ValueError(f"text weights {weights!r} do not fit: missing {missing[:5]}, wrong shape {wrong[:5]}")
    encoder.load_state_dict({k: state[k] for k in own})


@TEXT_ENCODERS.register("bert-base")
def bert_base(*, pooling: str = "pooler", weights: str | None = None, dropout: float = 0.1,
              trainable_layers: int | None = None) -> BertTextEncoder:
    """BERT-base-uncased (CTLG's text encoder); weights=`hf:bert-base-uncased` downloads them."""
    return BertTextEncoder(hidden=768, layers=12, heads=12, inner=3072, pooling=pooling, weights=weights,
                           dropout=dropout, trainable_layers=trainable_layers)


@TEXT_ENCODERS.register("minilm-l6")
def minilm_l6(*, pooling: str = "mean", weights: str | None = "offline-minilm", dropout: float = 0.1,
              trainable_layers: int | None = None) -> BertTextEncoder:
    """all-MiniLM-L6-v2 (6 layers, 384-d), weights shipped offline in a package."""
    return BertTextEncoder(hidden=384, layers=6, heads=12, inner=1536, pooling=pooling, weights=weights,
                           dropout=dropout, trainable_layers=trainable_layers)


@TEXT_ENCODERS.register("small-transformer")
def small_transformer(
    *, hidden: int = 128, layers: int = 2, heads: int = 4, pooling: str = "mean", max_positions: int = 128,
    dropout: float = 0.1, weights: str | None = None,
) -> BertTextEncoder:
    """A small BERT-shaped Transformer trained from scratch on the same WordPiece vocabulary."""
    return BertTextEncoder(hidden=hidden, layers=layers, heads=heads, inner=4 * hidden, max_positions=max_positions,
                           pooling=pooling, weights=weights, dropout=dropout)

