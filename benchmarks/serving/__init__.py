"""Benchmark: serving speed, memory and accuracy of one trained model, torch eager vs the exported ONNX variants.

For one model directory, in one run:

1. exports three artifacts into a work directory: ONNX fp32 without graph optimisation, ONNX fp32 optimised
   (onnxruntime transformer fusions), ONNX int8 (optimised, then dynamic int8 quantisation);
2. for torch eager (``TorchParser.parse``) and each artifact (``OnnxParser.parse``): single-utterance latency on one
   thread (p50/p95/p99, tokenisation and decoding included, real test utterances cycled after a warm-up),
   throughput at batch 32 on two threads, and test-split intent accuracy / slot F1 / exact match;
3. the resident memory of a fresh process that only imports ``nlu.runtime``, loads the int8 artifact and parses
   100 utterances (and whether torch got imported there: it must not);
4. the time of ``import nlu.runtime`` in a fresh interpreter (median of 5);
5. load tests: ``nlu serve`` on the int8 artifact on a free loopback port, N requests from C concurrent
   clients with W workers for each ``--load-matrix`` cell (16x1 64x1 16x2 64x2), throughput, latency
   percentiles, errors and the server's and the load generator's CPU;
6. with ``--student RUN/best``: a smaller model (``model.encoder_layers``) exported int8 and measured as the
   variants are; with ``--optimum-python PY``: the optimum stack on the same weights and utterances
   (``optimum_stack.py``, run by a benchmark-only virtual environment's python), its pipeline and its bare
   session, beside the runtime's;

and writes ``docs/performance.json`` (every raw number) and ``docs/performance.md`` (tables, targets met / not
met, machine, command).

    NLU_DATA_DIR=../shared/data python -m benchmarks.serving                    # the full measurement
    NLU_DATA_DIR=../shared/data python -m benchmarks.serving --optimum-python .venv-optimum/bin/python \\
        --student runs/benchmark/atis-jointbert_crf_small-seed1/best          # and the student, and optimum
    NLU_DATA_DIR=../shared/data python -m benchmarks.serving --model-dir runs/quickstart/best --data demo \\
        --quick --out /tmp/perf.md                                            # a smoke run (a few minutes)
    python -m benchmarks performance          # render docs/performance.md from its record; measure nothing

Timings are only meaningful on an otherwise idle machine: the load average at the start and the end is
recorded, and the report warns when the machine was busy.

The modules: ``inprocess`` (exports, latency, throughput and scores in this process), ``probes`` (memory and
import time of fresh interpreters), ``load_test`` (``nlu serve`` and its load generator), ``report`` (targets and
the page), ``cli`` (the command).
"""
