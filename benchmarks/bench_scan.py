"""Benchmark: Haechi's scanner against Microsoft Presidio on a labelled synthetic corpus.

Not a test. It generates Korean and English lines holding every identifier type
Haechi knows, plus hard negatives (dates, amounts, order ids, version strings,
numbers with a failed checksum, tracking numbers), then reports per type the
precision, recall and F1 of each tool and their throughput in MB/s.

Presidio (presidio-analyzer, installed for this benchmark only) runs with its Korean
recognizers (KR_RRN, KR_FRN, KR_PASSPORT, KR_DRIVER_LICENSE, KR_BRN), its generic
ones (e-mail, card, IP, phone with region KR, US bank number as the only bank
recognizer it has) and a blank spaCy pipeline, so nothing is downloaded. If it is
missing the benchmark runs Haechi alone and says so.

    python benchmarks/bench_scan.py [--lines 40000] [--presidio-lines 4000] [--seed 7]
                                    [--write docs/benchmarks-scan.md]

A prediction counts as a true positive when its type matches a labelled value and
their spans overlap (one prediction per label). Haechi's findings count at
confidence ≥ 0.5 (medium and high); Presidio's at any score it returns (its default).
"""

from __future__ import annotations

import argparse
import bisect
import os
import platform
import random
import string
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from haechi.discovery import FINDING_TYPES, Scanner, hyperscan_available, run_scan
from haechi.discovery.recognizers.business_registration import brn_is_valid
from haechi.discovery.recognizers.card import luhn_is_valid
from haechi.discovery.recognizers.foreign_rrn import frn_check_digit
from haechi.discovery.recognizers.rrn import rrn_check_digit

HAECHI_THRESHOLD = 0.5

# ----------------------------------------------------------------------------- corpus


@dataclass
class Line:
    text: str
    labels: list[tuple[str, int, int]]  # type, char start, char end


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(self.r.choice(string.digits) for _ in range(n))

    def birth(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.r.randrange((hi - lo).days))

    def _registration(self, foreign: bool, random_tail: bool) -> str:
        if random_tail:
            born = self.birth(date(2020, 10, 1), date(2024, 12, 31))
        else:
            born = self.birth(date(1940, 1, 1), date(2019, 12, 31))
        male = self.r.random() < 0.5
        if born.year >= 2000:
            g = ("7" if male else "8") if foreign else ("3" if male else "4")
        else:
            g = ("5" if male else "6") if foreign else ("1" if male else "2")
        body = born.strftime("%y%m%d") + g + self.digits(5)
        check = frn_check_digit(body + "0") if foreign else rrn_check_digit(body + "0")
        if random_tail:  # a random tail whose check digit fails on purpose
            check = (check + self.r.randrange(1, 10)) % 10
        sep = "-" if self.r.random() < 0.8 else ""
        return body[:6] + sep + body[6:] + str(check)

    def rrn(self) -> str:
        return self._registration(False, self.r.random() < 0.2)

    def foreign_rrn(self) -> str:
        return self._registration(True, self.r.random() < 0.2)

    def passport(self) -> str:
        t = self.r.choice("MMMMSRGD")
        if self.r.random() < 0.5:
            return t + self.digits(8)
        return t + self.digits(3) + self.r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + self.digits(4)

    def driver_license(self) -> str:
        region = self.r.choice([*range(11, 27), 28])
        body = f"{self.digits(2)}-{self.digits(6)}-{self.digits(2)}"
        if self.r.random() < 0.2:
            name = self.r.choice(["서울", "부산", "경기", "대구", "인천", "제주"])
            return f"{name} {body}"
        return f"{region}-{body}"

    def business_registration(self) -> str:
        while True:
            d = self.digits(3) + f"{self.r.randrange(1, 90):02d}" + self.digits(5)
            if brn_is_valid(d):
                return f"{d[:3]}-{d[3:5]}-{d[5:]}" if self.r.random() < 0.85 else d

    def phone(self) -> str:
        kind = self.r.random()
        sep = self.r.choice(["-", "-", "-", ".", " "])
        if kind < 0.45:
            return sep.join(["010", str(self.r.randrange(2000, 10000)), self.digits(4)])
        if kind < 0.6:
            return sep.join(["02", str(self.r.randrange(200, 10000)), self.digits(4)])
        if kind < 0.75:
            area = self.r.choice(["031", "032", "033", "041", "051", "053", "062", "064", "070"])
            return sep.join([area, str(self.r.randrange(200, 1000)), self.digits(4)])
        if kind < 0.87:
            return f"{self.r.choice(['15', '16', '18'])}{self.digits(2)}-{self.digits(4)}"
        return f"+82 10-{self.r.randrange(2000, 10000)}-{self.digits(4)}"

    def email(self) -> str:
        user = self.r.choice(["kim", "lee", "park", "choi", "jung", "hong", "j.smith", "ops"])
        user += self.r.choice(["", ".", "_"]) + self.digits(self.r.randrange(0, 4))
        user = user.rstrip("._")
        host = self.r.choice(
            ["naver.com", "gmail.com", "daum.net", "example.co.kr", "corp.kakao.com"]
        )
        return f"{user}@{host}"

    def card(self) -> str:
        prefix, length = self.r.choice(
            [("4", 16), ("51", 16), ("55", 16), ("2223", 16), ("37", 15), ("35", 16), ("9410", 16)]
        )
        while True:
            body = prefix + self.digits(length - len(prefix))
            if luhn_is_valid(body):
                break
        if length == 15:
            groups = [body[:4], body[4:10], body[10:]]
        else:
            groups = [body[i : i + 4] for i in range(0, 16, 4)]
        style = self.r.random()
        if style < 0.5:
            return "-".join(groups)
        if style < 0.8:
            return " ".join(groups)
        return body

    def bank_account(self) -> str:
        layout = self.r.choice(
            [(6, 2, 6), (3, 3, 6), (4, 3, 6), (3, 6, 5), (3, 4, 4, 2), (4, 2, 7)]
        )
        parts = [self.digits(n) for n in layout]
        return "-".join(parts) if self.r.random() < 0.8 else "".join(parts)

    def ip_address(self) -> str:
        if self.r.random() < 0.15:
            return f"2001:db8:{self.r.randrange(1, 0xFFFF):x}::{self.r.randrange(1, 0xFFFF):x}"
        first = self.r.choice([10, 172, 192, 203, 211, 58, 121])
        return ".".join([str(first)] + [str(self.r.randrange(0, 256)) for _ in range(3)])


# (type, templates): "{v}" is the value; Korean and English.
TEMPLATES: dict[str, list[str]] = {
    "rrn": [
        "고객 주민등록번호: {v} 확인 완료",
        "홍길동님 주민번호 {v} 로 본인확인",
        "Applicant RRN {v} verified by clerk",
        "신청인 {v} 서류 접수",
    ],
    "foreign_rrn": [
        "외국인등록번호 {v} 체류자격 E-9",
        "Foreign registration no. {v} (ARC)",
        "근로자 외국인 번호 {v} 입국",
    ],
    "passport": [
        "여권번호 {v} 만료일 2031-05-02",
        "Passport No: {v}, nationality KOR",
        "출국자 여권 {v} 확인",
        "travel document {v} scanned",
        "{v} 예약 확인",
    ],
    "driver_license": [
        "운전면허번호 {v} 1종 보통",
        "Driver license: {v}",
        "면허 {v} 적성검사 대상",
        "신분증 {v} 제출",
    ],
    "business_registration": [
        "사업자등록번호 {v} (주)해치상사",
        "Business registration no. {v}",
        "거래처 {v} 세금계산서 발행",
    ],
    "phone": [
        "연락처 {v} 로 회신 바랍니다",
        "Call me at {v} after 6pm",
        "고객센터 {v}",
        "담당자 김철수 {v}",
        "mobile: {v}",
    ],
    "email": [
        "이메일 {v} 로 발송",
        "Contact: {v}",
        "reply-to <{v}> accepted",
        "{v} 님이 로그인했습니다",
    ],
    "card": [
        "카드번호 {v} 승인",
        "Paid with card {v} exp 12/27",
        "결제수단 {v} 일시불",
        "txn ok {v}",
    ],
    "bank_account": [
        "입금계좌 국민은행 {v} 예금주 홍길동",
        "환불 계좌: {v} (신한)",
        "Bank account {v} for wire transfer",
        "송금 {v} 우리은행",
    ],
    "ip_address": [
        "login from {v} at 2023-10-15 09:12:44",
        "접속 IP {v} 차단",
        "client={v} status=200",
        "{v} - - [15/Oct/2023:09:12:44 +0900] GET /",
    ],
}


class Negatives:
    """Hard negatives: each returns a line with no identifier in it."""

    def __init__(self, gen: Gen) -> None:
        self.g = gen

    def line(self) -> str:
        g = self.g
        r = g.r
        kind = r.randrange(12)
        if kind == 0:
            d = g.birth(date(2000, 1, 1), date(2030, 1, 1))
            return (
                f"배송일 {d.isoformat()} / 주문일 {d.strftime('%Y.%m.%d')} / {d.strftime('%Y%m%d')}"
            )
        if kind == 1:
            won = r.randrange(1000, 99999999)
            return f"결제금액 {won:,}원, 부가세 ${r.randrange(10, 99999):,}.{r.randrange(100):02d}"
        if kind == 2:
            return f"주문번호 ORD-{g.digits(8)}-{g.digits(6)} 처리중 INV{g.digits(12)}"
        if kind == 3:
            four = f"{r.randrange(1, 9)}.{r.randrange(20)}.{r.randrange(300)}.{r.randrange(1, 9)}"
            return f"version {four} released, build v{r.randrange(1, 5)}.{r.randrange(9)}.1"
        if kind == 4:  # RRN shape, old date, failed check digit, no RRN word
            born = g.birth(date(1950, 1, 1), date(2010, 1, 1))
            body = born.strftime("%y%m%d") + r.choice("1234") + g.digits(5)
            bad = (rrn_check_digit(body + "0") + r.randrange(1, 10)) % 10
            return f"참조번호 {body[:6]}-{body[6:]}{bad} 접수"
        if kind == 5:  # 16 digits failing Luhn
            while True:
                n = r.choice("45") + g.digits(15)
                if not luhn_is_valid(n):
                    break
            return f"order id {n} shipped"
        if kind == 6:  # BRN shape failing the check
            while True:
                d = g.digits(3) + f"{r.randrange(1, 90):02d}" + g.digits(5)
                if not brn_is_valid(d):
                    break
            return f"문서번호 {d[:3]}-{d[3:5]}-{d[5:]} 보관"
        if kind == 7:
            cj = f"{g.digits(4)}-{g.digits(4)}-{g.digits(4)}"
            return f"운송장번호 {cj} CJ대한통운, UPS 1Z{g.digits(3)}AA{g.digits(10)}"
        if kind == 8:
            clock = f"{r.randrange(24):02d}:{r.randrange(60):02d}:{r.randrange(60):02d}"
            return f"timestamp={r.randrange(1600000000000, 1800000000000)} at {clock}"
        if kind == 9:
            return (
                f"상품코드 SKU-{g.digits(6)} 수량 {r.randrange(1, 50)}개, 재고 {r.randrange(99999)}"
            )
        if kind == 10:
            opened = g.birth(date(2000, 1, 1), date(2024, 1, 1)).isoformat()
            return f"계좌 개설일 {opened} 금리 {r.randrange(1, 5)}.{r.randrange(10, 99)}%"
        ratio = f"{r.randrange(1, 9)}.{r.randrange(100)}"
        return f"icon@2x.png loaded, ratio {ratio} of {r.randrange(9999)}"


FILLER = [
    "안녕하세요, 문의하신 내용 확인했습니다.",
    "The customer asked about the refund policy.",
    "처리 결과를 알려드립니다.",
    "Meeting moved to Thursday.",
    "",
]


LOG_LINES = [
    "2023-10-15T09:12:44.123+09:00 INFO  [http-nio-8080-exec-7] c.e.api.OrderController - "
    "GET /api/v1/orders?page=3&size=50 200 in 37 ms",
    "2023-10-15T09:12:45.002+09:00 DEBUG [scheduler-1] c.e.batch.SettlementJob - "
    "processed chunk 1824/5000, elapsed=1532ms, retries=0",
    "2023-10-15T09:12:45.310+09:00 WARN  [http-nio-8080-exec-2] c.e.auth.TokenFilter - "
    "token expired for session 7f3c9a2e-41d0-4b8e-9c55-0e2b8d1f6a77",
    "Oct 15 09:12:46 web-03 nginx[2211]: upstream response time 0.042s, status 304, bytes 0",
    "고객 문의 접수: 배송 지연 관련 문의가 접수되었습니다. 담당 부서로 이관합니다.",
]


def corpus(lines: int, seed: int, identifier_share: float = 0.55) -> list[Line]:
    """Labelled lines; ``identifier_share`` of them hold one identifier.

    With the default, 55 % of lines hold an identifier and 30 % a hard negative
    (dense: the accuracy corpus). A smaller share fills the rest with log lines
    (log-like: closer to what a scan meets in practice).
    """
    g = Gen(seed)
    neg = Negatives(g)
    out: list[Line] = []
    negative_share = identifier_share * 30 / 55
    for _ in range(lines):
        roll = g.r.random()
        if roll >= identifier_share + negative_share:
            out.append(Line(g.r.choice(LOG_LINES if identifier_share < 0.55 else FILLER), []))
            continue
        if roll < identifier_share:
            kind = g.r.choice(FINDING_TYPES)
            value = getattr(g, kind)()
            template = g.r.choice(TEMPLATES[kind])
            prefix, suffix = template.split("{v}")
            filler = g.r.choice(FILLER)
            head = (filler + " " if filler else "") + prefix
            out.append(Line(head + value + suffix, [(kind, len(head), len(head) + len(value))]))
        else:
            out.append(Line(neg.line(), []))
    return out


# ----------------------------------------------------------------------------- scoring


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(lines: list[Line], predicted: list[list[tuple[str, int, int]]]) -> dict[str, Score]:
    scores = {kind: Score() for kind in FINDING_TYPES}
    for line, preds in zip(lines, predicted, strict=True):
        used: set[int] = set()
        for kind, start, end in preds:
            if kind not in scores:
                continue
            hit = next(
                (
                    i
                    for i, (k, s, e) in enumerate(line.labels)
                    if k == kind and i not in used and s < end and start < e
                ),
                None,
            )
            if hit is None:
                scores[kind].fp += 1
            else:
                used.add(hit)
                scores[kind].tp += 1
        for i, (kind, _, _) in enumerate(line.labels):
            if i not in used:
                scores[kind].fn += 1
    return scores


# ----------------------------------------------------------------------------- tools


def haechi_predictions(
    scanner: Scanner, lines: list[Line]
) -> tuple[list[list[tuple[str, int, int]]], float, int]:
    encoded = [line.text.encode("utf-8") for line in lines]
    data = b"\n".join(encoded) + b"\n"
    starts = []
    offset = 0
    for raw in encoded:
        starts.append(offset)
        offset += len(raw) + 1
    began = time.perf_counter()
    hits = _scan_all(scanner, data)
    elapsed = time.perf_counter() - began
    out: list[list[tuple[str, int, int]]] = [[] for _ in lines]
    for hit in hits:
        if hit.confidence < HAECHI_THRESHOLD:
            continue
        index = bisect.bisect_right(starts, hit.start) - 1
        raw = encoded[index]
        s = len(raw[: hit.start - starts[index]].decode("utf-8"))
        e = len(raw[: hit.end - starts[index]].decode("utf-8"))
        out[index].append((scanner.recognizers[hit.recognizer].name, s, e))
    return out, elapsed, len(data)


def _scan_all(scanner: Scanner, data: bytes, chunk: int = 1 << 20) -> list:
    """Scan in 1 MiB chunks of whole lines, as the file scanner does; offsets global."""
    hits = []
    start = 0
    while start < len(data):
        end = (
            data.rfind(b"\n", start, start + chunk) + 1 if start + chunk < len(data) else len(data)
        )
        if end <= start:
            end = min(len(data), start + chunk)
        for hit in scanner.scan_buffer(data[start:end]):
            hits.append(
                type(hit)(hit.start + start, hit.end + start, hit.confidence, hit.recognizer)
            )
        start = end
    return hits


PRESIDIO_TYPES = {
    "KR_RRN": "rrn",
    "KR_FRN": "foreign_rrn",
    "KR_PASSPORT": "passport",
    "KR_DRIVER_LICENSE": "driver_license",
    "KR_BRN": "business_registration",
    "PHONE_NUMBER": "phone",
    "EMAIL_ADDRESS": "email",
    "CREDIT_CARD": "card",
    "US_BANK_NUMBER": "bank_account",
    "IP_ADDRESS": "ip_address",
}


def presidio_analyzer():  # -> AnalyzerEngine | str (reason it is unavailable)
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer import predefined_recognizers as pr
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError as error:
        return f"presidio-analyzer is not installed ({error.name})"

    class BlankSpacy(SpacyNlpEngine):
        """spaCy with a blank multi-language pipeline: tokens only, nothing downloaded."""

        def load(self) -> None:
            self.nlp = {"ko": spacy.blank("xx")}

    engine = BlankSpacy(models=[{"lang_code": "ko", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry(supported_languages=["ko"])
    for recognizer in (
        pr.KrRrnRecognizer(),
        pr.KrFrnRecognizer(),
        pr.KrPassportRecognizer(),
        pr.KrDriverLicenseRecognizer(),
        pr.KrBrnRecognizer(),
        pr.EmailRecognizer(supported_language="ko"),
        pr.CreditCardRecognizer(supported_language="ko"),
        pr.IpRecognizer(supported_language="ko"),
        pr.PhoneRecognizer(supported_language="ko", supported_regions=["KR"]),
        pr.UsBankRecognizer(supported_language="ko"),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["ko"])


def presidio_predictions(
    analyzer, lines: list[Line]
) -> tuple[list[list[tuple[str, int, int]]], float, int]:
    size = sum(len(line.text.encode("utf-8")) + 1 for line in lines)
    out: list[list[tuple[str, int, int]]] = []
    began = time.perf_counter()
    for line in lines:
        results = analyzer.analyze(text=line.text, language="ko") if line.text else []
        out.append(
            [
                (PRESIDIO_TYPES[r.entity_type], r.start, r.end)
                for r in results
                if r.entity_type in PRESIDIO_TYPES
            ]
        )
    elapsed = time.perf_counter() - began
    return out, elapsed, size


# ----------------------------------------------------------------------------- report


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([fmt(header), sep, *(fmt(row) for row in rows)])


def file_throughput(lines: list[Line], engine: str, workers: int) -> float:
    """MB/s of ``run_scan`` over the corpus written to a file (reading included)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "corpus.txt")
        with path.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line.text + "\n")
        began = time.perf_counter()
        run_scan([path], engine=engine, workers=workers)
        elapsed = time.perf_counter() - began
        return path.stat().st_size / elapsed / 1e6


def offline_tldextract() -> None:
    """Make Presidio's e-mail recognizer use tldextract's bundled suffix list (no fetch)."""
    try:
        import tldextract
        import tldextract.tldextract as module
    except ImportError:
        return
    module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=600_000, help="lines per throughput corpus")
    parser.add_argument("--presidio-lines", type=int, default=3_000, help="lines Presidio analyses")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", type=Path, help="write a Markdown report here")
    args = parser.parse_args()

    dense = corpus(args.lines, args.seed)
    loglike = corpus(args.lines, args.seed + 1, identifier_share=0.02)
    sample = dense[: args.presidio_lines]
    log_sample = loglike[: args.presidio_lines]
    labels = Counter(kind for line in sample for kind, _, _ in line.labels)

    engines = ["re"] + (["hyperscan"] if hyperscan_available() else [])
    # throughput[corpus][tool] in MB/s
    throughput: dict[str, dict[str, float]] = {"dense": {}, "log-like": {}}
    haechi_scores: dict[str, Score] = {}
    for engine in engines:
        scanner = Scanner(engine=engine)
        preds, _, _ = haechi_predictions(scanner, sample)
        scores = score(sample, preds)
        if haechi_scores and any(
            (scores[k].tp, scores[k].fp) != (haechi_scores[k].tp, haechi_scores[k].fp)
            for k in scores
        ):
            print(f"warning: engine {engine} scored differently", file=sys.stderr)
        haechi_scores = scores
        for name, lines in (("dense", dense), ("log-like", loglike)):
            _, elapsed, size = haechi_predictions(scanner, lines)
            throughput[name][f"Haechi {engine}, 1 process"] = size / elapsed / 1e6
    if hyperscan_available() and (os.cpu_count() or 1) > 1:
        workers = os.cpu_count() or 2
        for name, lines in (("dense", dense), ("log-like", loglike)):
            mbps = file_throughput(lines, "hyperscan", workers)
            throughput[name][f"Haechi hyperscan, run_scan {workers} workers"] = mbps
    sample_size = size_mb(sample) * 1e6

    offline_tldextract()
    analyzer = presidio_analyzer()
    presidio_scores: dict[str, Score] | None = None
    if isinstance(analyzer, str):
        presidio_note = f"Presidio was not run: {analyzer}; Haechi's figures stand alone."
    else:
        from importlib.metadata import version

        analyzer.analyze(text="warm-up kim@example.com 010-2345-6789", language="ko")
        preds, elapsed, size = presidio_predictions(analyzer, sample)
        presidio_scores = score(sample, preds)
        throughput["dense"]["Presidio, 1 process"] = size / elapsed / 1e6
        _, elapsed, size = presidio_predictions(analyzer, log_sample)
        throughput["log-like"]["Presidio, 1 process"] = size / elapsed / 1e6
        presidio_note = (
            f"presidio-analyzer {version('presidio-analyzer')}, spaCy {version('spacy')} "
            "(blank pipeline)."
        )

    header = ["type", "labels", "Haechi P", "Haechi R", "Haechi F1"]
    if presidio_scores:
        header += ["Presidio P", "Presidio R", "Presidio F1"]
    rows = []
    for kind in FINDING_TYPES:
        h = haechi_scores[kind]
        row = [kind, str(labels[kind]), f"{h.precision:.3f}", f"{h.recall:.3f}", f"{h.f1:.3f}"]
        if presidio_scores:
            p = presidio_scores[kind]
            row += [f"{p.precision:.3f}", f"{p.recall:.3f}", f"{p.f1:.3f}"]
        rows.append(row)
    accuracy = table(rows, header)

    speed_rows = []
    for name, tools in throughput.items():
        base = tools.get("Presidio, 1 process")
        for tool, mbps in tools.items():
            ratio = f"{mbps / base:.0f}×" if base and not tool.startswith("Presidio") else ""
            speed_rows.append([name, tool, f"{mbps:.2f}", ratio])
    speed = table(speed_rows, ["corpus", "tool", "MB/s", "vs Presidio"])

    try:
        from importlib.metadata import version

        hs_version = version("hyperscan")
    except Exception:
        hs_version = "not installed"
    context = (
        f"Corpora: {args.lines:,} synthetic lines each, dense ({size_mb(dense):.1f} MB: 55 % of "
        f"lines hold an identifier, 30 % a hard negative) and log-like ({size_mb(loglike):.1f} "
        f"MB: 2 % identifiers, 1 % hard negatives, the rest application log lines); seed "
        f"{args.seed}. Accuracy and Presidio's throughput use the first {len(sample):,} lines "
        f"({sample_size / 1e6:.2f} MB) of each. Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other work, so figures vary by ±30 %), "
        f"Python {platform.python_version()}, hyperscan {hs_version}. {presidio_note}"
    )
    print(context, "\n")
    print(accuracy, "\n")
    print(speed)

    if args.write:
        args.write.write_text(
            "# Scanner benchmark\n\n"
            "Produced by `python benchmarks/bench_scan.py --write docs/benchmarks-scan.md`.\n\n"
            f"{context}\n\n"
            "Scoring: a prediction is a true positive when its type matches a labelled value "
            "and the spans overlap. Haechi counts findings at confidence ≥ 0.5; Presidio counts "
            "every result it returns (default threshold). Presidio has no Korean bank-account "
            "recognizer; its US bank-number recognizer stands in.\n\n"
            "## Accuracy per type (dense corpus)\n\n"
            f"{accuracy}\n\n"
            "## Throughput\n\n"
            "In-memory scans (`Scanner.scan_buffer` on 1 MiB chunks) for one process; "
            "`run_scan` on a file (reading and splitting included) for the workers row; "
            "Presidio's `AnalyzerEngine.analyze` line by line.\n\n"
            f"{speed}\n",
            encoding="utf-8",
        )
    return 0


def size_mb(lines: list[Line]) -> float:
    return sum(len(line.text.encode("utf-8")) + 1 for line in lines) / 1e6


if __name__ == "__main__":
    raise SystemExit(main())
