"""A short serving soak (benchmarks/soak.py; `make soak` runs it for 10 minutes): real
`hubtune serve` process, concurrent REST and gRPC, malformed requests, versions pushed
and removed under load.  Correctness only; latency and RSS are `make soak`'s report."""

from benchmarks import soak


def test_under_load_with_pushes_no_good_request_fails_and_bad_ones_get_4xx(
        model_versions, serving_images):
    report = soak.soak(model_versions[0], serving_images, seconds=20, push_every=4,
                       concurrency=4)
    assert report.pushes >= 3
    assert report.good > 50 and report.malformed > 5
    assert report.failed_good == []
    assert report.mishandled_malformed == []
    assert len(report.rss_mb) >= 3 and all(r > 0 for r in report.rss_mb)
    lines = soak.summary_lines(report, 4, 4)
    assert "failed: 0" in lines[1] and "p99" in lines[3]
