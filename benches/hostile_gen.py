#!/usr/bin/env python3
"""Writes one hostile report of about SIZE_MB megabytes: `hostile_gen.py KIND SIZE_MB OUT`.

Each kind is a shape that made a parser hold memory in proportion to its input (issue 12);
benches/hostile_rss.sh measures flakehound's peak RSS on two sizes of each.
"""
import sys

KIND, MB, OUT = sys.argv[1], float(sys.argv[2]), sys.argv[3]
N = int(MB * 1_000_000)
CHUNK = "0123456789abcdef" * 4096  # 64 KiB


def blob(f, n, chunk=CHUNK):
    while n > 0:
        part = chunk[: min(n, len(chunk))]
        f.write(part)
        n -= len(part)


def repeat(f, text, n):
    count = max(1, n // len(text))
    block = text * 1000
    for _ in range(count // 1000):
        f.write(block)
    f.write(text * (count % 1000))


with open(OUT, "w") as f:
    if KIND == "junit-system-out":
        f.write('<testsuites><testsuite name="s"><testcase classname="c" name="t"><system-out>')
        blob(f, N)
        f.write("</system-out></testcase></testsuite></testsuites>\n")
    elif KIND == "junit-cdata":
        f.write('<testsuite name="s"><testcase classname="c" name="t"><failure><![CDATA[')
        blob(f, N)
        f.write("]]></failure></testcase></testsuite>\n")
    elif KIND == "junit-message-attr":
        f.write('<testsuite name="s"><testcase classname="c" name="t"><failure message="')
        blob(f, N)
        f.write('"/></testcase></testsuite>\n')
    elif KIND == "junit-properties":
        f.write('<testsuite name="s"><testcase classname="c" name="t"><properties>')
        repeat(f, '<property name="k" value="v"/>', N)
        f.write("</properties></testcase></testsuite>\n")
    elif KIND == "junit-nested":
        # 20,000 nested suites (the shape); the cases per level grow with the size.
        depth = 20_000
        per_level = max(1, N // (depth * 50))
        case = '<testcase classname="c" name="t"/>' * per_level
        f.write("<testsuites>")
        for i in range(depth):
            f.write(f'<testsuite name="s{i}">{case}')
        f.write("</testsuite>" * depth)
        f.write("</testsuites>\n")
    elif KIND == "junit-many-cases":
        f.write('<testsuite name="s">')
        repeat(f, '<testcase classname="pkg.Class" name="test_x" time="0.01"/>\n', N)
        f.write("</testsuite>\n")
    elif KIND in ("trx-results-first", "trx-defs-first"):
        # Every test distinct (one result each): the join holds as many definitions as results.
        count = max(1, N // 400)

        def results():
            f.write("<Results>")
            for i in range(count):
                f.write(
                    f'<UnitTestResult executionId="{i:08x}-0000-4000-8000-000000000001" '
                    f'testId="{i:08x}-0000-4000-8000-000000000002" testName="Test{i}" '
                    f'outcome="Passed" duration="00:00:00.01"/>\n'
                )
            f.write("</Results>")

        def definitions():
            f.write("<TestDefinitions>")
            for i in range(count):
                f.write(
                    f'<UnitTest name="Test{i}" id="{i:08x}-0000-4000-8000-000000000002">'
                    f'<Execution id="{i:08x}-0000-4000-8000-000000000001"/>'
                    f'<TestMethod className="Ns.Class{i % 50}" name="Test{i}"/></UnitTest>\n'
                )
            f.write("</TestDefinitions>")

        f.write('<TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">')
        if KIND == "trx-results-first":
            results()
            definitions()
        else:
            definitions()
            results()
        f.write("</TestRun>\n")
    elif KIND == "jest-assertions":
        f.write('{"numTotalTests":1,"testResults":[{"name":"/src/a.test.js","status":"passed","assertionResults":[')
        one = '{"ancestorTitles":["d"],"title":"t","fullName":"d t","status":"passed","failureMessages":[]}'
        count = max(1, N // (len(one) + 1))
        f.write(",".join([one] * min(count, 1000)))
        for _ in range(count // 1000 - 1):
            f.write("," + ",".join([one] * 1000))
        f.write("]}]}\n")
    elif KIND == "jest-message":
        f.write('{"numTotalTests":1,"testResults":[{"name":"/src/a.test.js","status":"failed","assertionResults":[')
        f.write('{"ancestorTitles":[],"title":"t","status":"failed","failureMessages":["Error: x\\n')
        blob(f, N)
        f.write('"]}]}]}\n')
    elif KIND == "dart-long-line":
        f.write('{"protocolVersion":"0.1.1","runnerVersion":"1.24.0","pid":1,"type":"start","time":0}\n')
        f.write('{"test":{"id":1,"name":"t","suiteID":0,"groupIDs":[]},"type":"testStart","time":1}\n')
        f.write('{"testID":1,"messageType":"print","message":"')
        blob(f, N)
        f.write('","type":"print","time":2}\n')
        f.write('{"testID":1,"result":"success","skipped":false,"hidden":false,"type":"testDone","time":3}\n')
        f.write('{"success":true,"type":"done","time":4}\n')
    elif KIND == "mocha-many":
        one = '{"title":"t","fullTitle":"d t","file":"/a.js","duration":1,"currentRetry":0,"err":{}}'
        count = max(1, N // (2 * len(one) + 2))
        body = ",".join([one] * min(count, 1000))
        f.write('{"stats":{"tests":%d},"tests":[' % count)
        f.write(body)
        for _ in range(count // 1000 - 1):
            f.write("," + body)
        f.write('],"pending":[],"failures":[],"passes":[')
        f.write(body)
        for _ in range(count // 1000 - 1):
            f.write("," + body)
        f.write("]}\n")
    elif KIND == "gojson-output":
        f.write('{"Action":"run","Package":"p","Test":"TestA"}\n{"Action":"output","Package":"p","Test":"TestA","Output":"')
        blob(f, N)
        f.write('\\n"}\n{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0.1}\n{"Action":"fail","Package":"p","Elapsed":0.1}\n')
    elif KIND == "tap-line":
        f.write("TAP version 13\n1..2\nok 1 - a\nnot ok 2 - ")
        blob(f, N)
        f.write("\n")
    elif KIND == "libtest-stdout":
        f.write('{ "type": "suite", "event": "started", "test_count": 1 }\n')
        f.write('{ "type": "test", "event": "started", "name": "t" }\n')
        f.write('{ "type": "test", "name": "t", "event": "failed", "stdout": "')
        blob(f, N)
        f.write('" }\n{ "type": "suite", "event": "failed", "passed": 0, "failed": 1 }\n')
    elif KIND == "ctrf-message":
        f.write('{"results":{"tool":{"name":"x"},"summary":{"tests":1},"tests":[{"name":"t","status":"failed","duration":1,"message":"')
        blob(f, N)
        f.write('"}]}}\n')
    else:
        sys.exit(f"unknown kind {KIND}")
