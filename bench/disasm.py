#!/usr/bin/env python3
"""The JIT listings behind issue 14's hot-path figures, cut and counted (bench/disasm.sh runs it).

  disasm.py extract RAW OUTDIR METHOD...   one run's DOTNET_JitStdOutFile: for each METHOD ("Class:Method", the class
                                           without its namespace, generic arity ignored) writes the listing of its
                                           final tier (the last Tier1, else FullOpts) to OUTDIR/Class.Method.asm;
                                           exit 1 if a method has no such listing (never optimised: not hot),
                                           unless it is marked optional with a trailing '?'
  disasm.py count DIR                      counts every DIR/*/*.asm into DIR/counts.md

Counted from the listing text (Intel syntax, destination first), not measured: the VM exposes no PMU.
- instructions: every line that is an instruction (labels, comments, `align` padding and data are not);
- loads / stores: memory operands read / written (`lea` touches no memory; a read-modify-write of memory such as
  `inc qword ptr [rax]` is one of each; `push` is a store and `pop` a load; an indirect `call [..]` is a call only);
- stack: the memory operands among those that address the frame (`[rbp..]`, `[rsp..]`) plus push/pop: spills,
  saved registers, locals;
- branches: jumps (`jmp`, `jcc`); calls: `call`;
- fall-through path: from the entry (or the head of a loop) the instructions executed when every conditional branch
  falls through and every `jmp` is followed, up to `ret` (or the branch back to the loop head). The JIT lays out the
  likelier successor as the fall-through with PGO, so this is normally the hot path; README.md beside the counts
  says for each listing whether it is.
"""
import os, re, sys

LISTING = re.compile(r'^; Assembly listing for method (?P<name>[^(\s]+)(?:\((?P<args>.*)\))?(?P<ret>\S*) \((?P<tier>[^)]*)\)\s*$')
LABEL = re.compile(r'^(G_M\d+_IG\d+):')
INSTRUCTION = re.compile(r'^\s+(?P<op>[a-z][a-z0-9.]*)(?:\s+(?P<rest>.*))?$')
STORE_ONLY = re.compile(r'^(mov|movs[xd]?|movsxd|movzx|v?mov(aps|ups|dqu|dqa|dqu8|dqu16|dqu32|dqu64|dqa32|dqa64|q|d|sd|ss|lps|hps|nti)|movnti|set[a-z]+|stos[bwdq]?|vpmov[a-z0-9]*|vextract[a-z0-9]*|vmaskmov[a-z]*)$')
READ_FIRST = {'cmp', 'test', 'bt', 'ucomisd', 'ucomiss', 'comisd', 'comiss', 'vptest'}


def parse_listings(path):
    """(full name, tier, lines) for each listing in a JitStdOutFile."""
    listings, current = [], None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = LISTING.match(line)
            if m:
                current = [m.group('name'), m.group('tier'), [line.rstrip('\n')]]
                listings.append(current)
            elif current is not None:
                current[2].append(line.rstrip('\n'))
                if line.startswith('; Total bytes of code'):
                    current = None
    return listings


def short_name(full):
    """FastPt.Hardware.Cpu`1[FastPt.Mm.FrameMap]:TranslateSlow -> Cpu:TranslateSlow."""
    cls, _, method = full.partition(':')
    cls = re.sub(r'\[.*\]$', '', cls)
    cls = cls.split('.')[-1].split('`')[0]
    return f'{cls}:{method}'


def extract(raw, outdir, wanted):
    listings = parse_listings(raw)
    os.makedirs(outdir, exist_ok=True)
    missing = []
    for want in wanted:
        optional = want.endswith('?')
        want = want.rstrip('?')
        final = None
        for preferred in ('Tier1', 'FullOpts'):
            matches = [l for l in listings if short_name(l[0]) == want and l[1] == preferred]
            if matches:
                final = matches[-1]
                break
        if final is None:
            tiers = sorted({l[1] for l in listings if short_name(l[0]) == want})
            if optional:
                print(f'  {want}: no final-tier listing (tiers seen: {", ".join(tiers) or "none"}), skipped')
                continue
            missing.append(f'{want} (tiers seen: {", ".join(tiers) or "none"})')
            continue
        name = want.replace(':', '.')
        with open(os.path.join(outdir, name + '.asm'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(final[2]) + '\n')
        print(f'  {want}: {final[1]} -> {os.path.join(outdir, name + ".asm")}')
    if missing:
        print('disasm.py: no final-tier listing for ' + '; '.join(missing), file=sys.stderr)
        return 1
    return 0


def operands(rest):
    rest = rest.split(';')[0].strip()
    out, depth, field = [], 0, ''
    for c in rest:
        if c == '[': depth += 1
        if c == ']': depth -= 1
        if c == ',' and depth == 0:
            out.append(field.strip()); field = ''
        else:
            field += c
    if field.strip(): out.append(field.strip())
    return out


def classify(op, ops):
    """(loads, stores, stack, branch, call) of one instruction."""
    if op == 'lock' and ops:  # "lock or qword ptr [x], 1": the prefix, then the instruction
        parts = ops[0].split(None, 1)
        op, ops = parts[0], [parts[1] if len(parts) > 1 else ''] + ops[1:]
    if op.startswith('j'):
        return 0, 0, 0, 1, 0
    if op in ('call', 'tail.jmp'):  # tail.jmp: a tail call
        return 0, 0, 0, 0, 1
    if op == 'push':
        return 0, 1, 1, 0, 0
    if op == 'pop':
        return 1, 0, 1, 0, 0
    if op in ('lea', 'nop', 'int3') or op.startswith('prefetch'):  # no architectural access
        return 0, 0, 0, 0, 0
    loads = stores = stack = 0
    for i, operand in enumerate(ops):
        if '[' not in operand:
            continue
        frame = bool(re.search(r'\[(rbp|rsp)\b', operand))
        if i == 0 and op not in READ_FIRST:
            if STORE_ONLY.match(op):
                stores += 1
            else:
                loads += 1; stores += 1
        else:
            loads += 1
        stack += frame
    return loads, stores, stack, 0, 0


def body(lines):
    """The instructions of a listing: (label of the block, op, operands, text)."""
    out, label = [], None
    for line in lines:
        if line.startswith(';') or not line.strip():
            continue
        m = LABEL.match(line)
        if m:
            label = m.group(1)
            continue
        m = INSTRUCTION.match(line)
        if not m or m.group('op') in ('align',) or line.lstrip().startswith('RWD'):
            continue
        out.append((label, m.group('op'), operands(m.group('rest') or ''), line.strip()))
    return out


def fall_through(instrs, start, at=None, seen=None, path=None):
    """(indices, closed): what runs from instrs[at] (default: start) when every jcc falls through and every jmp is
    followed, up to ret, a tail call or the return to the loop head instrs[start] (closed). A jcc back to the head
    is followed only if falling through would not come back to the head anyway (the loop condition at the bottom,
    not a skip inside the body)."""
    first = {}
    for i, (label, *_rest) in enumerate(instrs):
        first.setdefault(label, i)
    head = instrs[start][0]
    i = start if at is None else at
    seen = set() if seen is None else set(seen)
    path = [] if path is None else list(path)
    while 0 <= i < len(instrs) and len(path) < 5000:
        label, op, ops, _ = instrs[i]
        if i == first[label]:
            if label == head and path:
                return path, True
            if label in seen:
                return path, False
            seen.add(label)
        path.append(i)
        target = ops[0].replace('SHORT ', '').strip() if ops else ''
        if op in ('ret', 'tail.jmp'):
            return path, False
        if op == 'jmp':
            if target not in first:
                return path, False
            if target == head:
                return path, True
            i = first[target]
            continue
        if op.startswith('j') and target == head:
            rest, closed = fall_through(instrs, start, i + 1, seen, path)
            return (rest, True) if closed else (path, True)
        i += 1
    return path, False


def loops(instrs):
    """Heads of loops: targets of conditional jumps backwards (the loop condition), first to last."""
    first = {}
    for i, (label, *_rest) in enumerate(instrs):
        first.setdefault(label, i)
    heads = []
    for i, (label, op, ops, _) in enumerate(instrs):
        if op.startswith('j') and op != 'jmp' and ops:
            target = ops[0].replace('SHORT ', '').strip()
            if target in first and first[target] <= i and first[target] not in heads:
                heads.append(first[target])
    return sorted(heads)


def summarize(instrs, indices):
    totals = [0, 0, 0, 0, 0]
    for i in indices:
        for k, v in enumerate(classify(instrs[i][1], instrs[i][2])):
            totals[k] += v
    return totals


def blocks_of(instrs, indices):
    out, last = [], None
    for i in indices:
        if instrs[i][0] != last:
            out.append([instrs[i][0].split('_')[-1], 0]); last = instrs[i][0]
        out[-1][1] += 1
    return ' '.join(f'{b}:{n}' for b, n in out)


def count(root):
    rows, details = [], []
    for run in sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))):
        for asm in sorted(f for f in os.listdir(os.path.join(root, run)) if f.endswith('.asm')):
            lines = open(os.path.join(root, run, asm), encoding='utf-8').read().splitlines()
            header = LISTING.match(lines[0])
            tier = header.group('tier') if header else '?'
            pgo = next((l[len('; optimized using '):] for l in lines if l.startswith('; optimized using ')), 'no PGO')
            size = next((l.split()[-1] for l in lines if l.startswith('; Total bytes of code')), '?')
            instrs = body(lines)
            loads, stores, stack, branches, calls = summarize(instrs, range(len(instrs)))
            targets = sorted({re.sub(r'\(.*', '', i[2][0]).strip('[]').split(':')[-1] for i in instrs if i[1] in ('call', 'tail.jmp') and i[2]})
            heads = loops(instrs)
            paths = []
            if heads:
                for h in heads:
                    p, closes = fall_through(instrs, h)
                    # A loop's fall-through path must come back to its head; else it is no steady state.
                    if closes:
                        paths.append(('loop ' + instrs[h][0].split('_')[-1], p))
            if not paths:
                paths.append(('entry to ret', fall_through(instrs, 0)[0]))
            name = f'{run}/{asm[:-4]}'
            path_text = []
            for kind, p in paths:
                pl, ps, pk, pb, pc = summarize(instrs, p)
                path_text.append(f'{kind}: {len(p)} ({pl} ld, {ps} st, {pk} stack, {pb} br, {pc} call)')
                details.append(f'- `{name}` {kind}: {len(p)} instructions, blocks {blocks_of(instrs, p)}')
            rows.append(f'| `{name}` | {tier}, {pgo} | {size} | {len(instrs)} | {loads} | {stores} | {stack} | {branches} | {calls} | '
                        + '<br>'.join(path_text) + ' | ' + (', '.join(f'`{t}`' for t in targets) or '—') + ' |')
    with open(os.path.join(root, 'counts.md'), 'w', encoding='utf-8') as f:
        f.write('# Instruction counts of the listings (bench/disasm.py, counted from the text)\n\n')
        f.write('Whole listing: every instruction of the method, cold blocks included. Fall-through path: what runs when every\n'
                'conditional branch falls through (the layout PGO chose for the likelier successor), per loop or from the entry to\n'
                '`ret`; "ld/st" are memory operands read/written, "stack" those on the frame plus push/pop (spills, saved\n'
                'registers). README.md says which path each benchmark takes.\n\n')
        f.write('| run/listing | tier | bytes | instructions | loads | stores | stack | branches | calls | fall-through path | calls to |\n')
        f.write('|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n')
        f.write('\n'.join(rows) + '\n\n## Blocks on each fall-through path (block:instructions)\n\n' + '\n'.join(details) + '\n')
    print('wrote ' + os.path.join(root, 'counts.md'))
    return 0


if __name__ == '__main__':
    if len(sys.argv) >= 4 and sys.argv[1] == 'extract':
        sys.exit(extract(sys.argv[2], sys.argv[3], sys.argv[4:]))
    if len(sys.argv) == 3 and sys.argv[1] == 'count':
        sys.exit(count(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
