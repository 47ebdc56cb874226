"""The engine: the contracts a method, a full-reference method and a protocol implement, the
step machinery (:class:`~bench.engine.engine.Engine`), the one epoch loop, networks,
samplers, the session of a protocol run and the training and testing of one fold. It
imports ``bench.core`` and ``bench.data`` only, and never a particular method or protocol."""
