"""transformers' ``PreTrainedModel``, as the init protocols need to know it. Generated: do not edit.

Regenerate with ``python scripts/generate_hf_table.py`` (from transformers 5.24.0).
``BASE_INIT_WEIGHTS`` is the dispatch (see ``dispatch.py``) of the base class's default
``PreTrainedModel._init_weights``; ``PRETRAINED_BASES`` the names the base class is reached by.
"""

TRANSFORMERS_VERSION = '5.24.0'

PRETRAINED_BASES = frozenset({'transformers.PreTrainedModel', 'transformers.modeling_utils.PreTrainedModel'})

BASE_INIT_WEIGHTS: list = [['if',
  [[['isinstance',
     ['torch.nn.Linear',
      'torch.nn.Conv1d',
      'torch.nn.Conv2d',
      'torch.nn.Conv3d',
      'torch.nn.ConvTranspose1d',
      'torch.nn.ConvTranspose2d']],
    [['if', [[['has', 'weight'], [['write', 'weight']]]], []],
     ['if', [[['has', 'bias'], [['write', 'bias']]]], []]]],
   [['isinstance', ['torch.nn.LSTM']], [['all', 'parameter']]],
   [['isinstance', ['torch.nn.Embedding']],
    [['write', 'weight'],
     ['if', [[['and', [['has', 'padding_idx'], ['not', ['?']]]], [['write', 'weight']]]], []]]],
   [['isinstance', ['torch.nn.MultiheadAttention']], [['method', '_reset_parameters']]],
   [['or',
     [['isinstance',
       ['torch.nn.GroupNorm', 'torch.nn.BatchNorm1d', 'torch.nn.BatchNorm2d', 'torch.nn.BatchNorm3d']],
      ['name', 'in', 'LayerNorm'],
      ['name', 'in', 'RMSNorm']]],
    [['if', [[['has', 'weight'], [['write', 'weight']]]], []],
     ['if', [[['has', 'bias'], [['write', 'bias']]]], []],
     ['if',
      [[['has', 'running_mean'],
        [['write', 'running_mean'], ['write', 'running_var'], ['write', 'num_batches_tracked']]]],
      []]]],
   [['and', [['name', 'in', 'RotaryEmbedding'], ['has', 'original_inv_freq']]],
    [['write', 'inv_freq'], ['write', 'original_inv_freq']]]],
  []]]
