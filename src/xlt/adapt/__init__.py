"""xlt.adapt: adapting an encoder to a task or a language with few trainable parameters, new vocabularies
or continued pretraining."""
