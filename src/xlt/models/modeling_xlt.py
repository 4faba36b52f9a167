"""Mean-pooling sequence classifier as a Hugging Face model class.

This file is self-contained (it imports only ``torch`` and ``transformers``): ``xlt transfer
--save`` copies it into every fine-tuned sequence/pair classification folder whose head pools by
mean, and the folder's ``config.json`` points ``AutoModelForSequenceClassification`` at it
(``auto_map``), so ``AutoModelForSequenceClassification.from_pretrained(folder,
trust_remote_code=True)`` and ``transformers.pipeline("text-classification", model=folder,
trust_remote_code=True)`` load it. xlt itself imports the class directly.

The head is the one XTREME uses for classification with mean pooling (Hu et al. 2020): the
attention-masked mean of the encoder's last hidden states, dropout, one linear layer.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput


class XltMeanPoolingForSequenceClassification(PreTrainedModel):
    """Any Hugging Face encoder + attention-masked mean pooling + dropout + linear classifier.

    Args:
        config: the encoder's config with ``num_labels`` (and ``id2label``) set; the dropout is
            ``classifier_dropout`` if set, else ``hidden_dropout_prob`` (else 0.1).

    Input: ``input_ids``, ``attention_mask`` ``(batch, seq)``; ``token_type_ids`` is accepted and
    ignored (xlt trains without segment ids). Output: ``SequenceClassifierOutput`` with
    ``logits`` ``(batch, num_labels)`` and, given ``labels`` ``(batch,)``, the cross-entropy loss.
    """

    config_class = PretrainedConfig
    base_model_prefix = "encoder"
    _no_split_modules: list[str] = []
    # attention is the wrapped encoder's business; it checks its own support
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        try:
            self.encoder = AutoModel.from_config(config, add_pooling_layer=False)
        except TypeError:  # encoders without a pooler option
            self.encoder = AutoModel.from_config(config)
        p = getattr(config, "classifier_dropout", None)
        if p is None:
            p = getattr(config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear) and module is self.classifier:
            module.weight.data.normal_(0.0, getattr(self.config, "initializer_range", 0.02))
            if module.bias is not None:
                module.bias.data.zero_()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.config.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)
