using System;
using System.Collections.Generic;
using System.Diagnostics;

namespace FastPt.Cli.Traces;

/// <summary>What a lackey replay did and what it cost.</summary>
internal sealed record LackeyReplayResult
{
    /// <summary>Lines read.</summary>
    public long Lines { get; init; }

    /// <summary>Lines skipped: valgrind's <c>==</c> messages and blank lines.</summary>
    public long SkippedLines { get; init; }

    /// <summary>Malformed lines passed over (skip-bad).</summary>
    public long BadLines { get; init; }

    /// <summary>The first malformed line passed over, or null.</summary>
    public string? FirstBadLine { get; init; }

    /// <summary>Accesses of each kind, indexed by <see cref="LackeyKind"/>.</summary>
    public required long[] AccessesByKind { get; init; }

    /// <summary>Accesses replayed (trace records).</summary>
    public long Accesses { get; init; }

    /// <summary>Translations done: one per page an access touches, two (read, then write) for a modify.</summary>
    public long Translations { get; init; }

    /// <summary>Accesses that crossed into a second page.</summary>
    public long PageCrossings { get; init; }

    /// <summary>Distinct 4 KiB pages touched.</summary>
    public long DistinctPages { get; init; }

    /// <summary>Translations that faulted and stayed faulted (addresses outside the user range, such as the
    /// vsyscall page).</summary>
    public long Unresolved { get; init; }

    /// <summary>The first unresolved translation, or null.</summary>
    public PageFault? FirstUnresolved { get; init; }

    /// <summary>Time spent translating (reading and parsing the trace excluded).</summary>
    public TimeSpan TranslateTime { get; init; }

    /// <summary>Time of the whole replay, reading included.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>The counters of the one CPU context that translated every access.</summary>
    public TlbStatistics Tlb { get; init; }

    /// <summary>Machine counters after the replay (demand faults, transparent huge pages).</summary>
    public required MemoryStatistics Memory { get; init; }

    /// <summary>Page-table pages of the address space, by level.</summary>
    public PageTableCounts Tables { get; init; }

    /// <summary>2 MiB leaves mapped (transparent huge pages).</summary>
    public long HugePages { get; init; }

    /// <summary>4 KiB leaves mapped.</summary>
    public long SmallPages { get; init; }

    /// <summary>Accesses per second of translation time.</summary>
    public double AccessesPerSecond => TranslateTime > TimeSpan.Zero ? Accesses / TranslateTime.TotalSeconds : 0;
}

/// <summary>Replays a lackey trace into an address space whose whole user range is one anonymous read-write-execute
/// region: every page is mapped on its first touch by a demand fault (a 4 KiB frame, or a transparent huge page), and
/// every access is translated through one <see cref="MmuContext"/> with the rights of its kind — fetch for
/// <c>I</c>, read for <c>L</c>, write for <c>S</c>, read then write for <c>M</c>; an access that crosses a page
/// boundary translates both pages. The trace is read in batches, so only the translation of each batch is timed.</summary>
internal static class LackeyReplayer
{
    private const int BatchSize = 1 << 14;

    /// <summary>Replays <paramref name="reader"/> into <paramref name="space"/> of <paramref name="machine"/>;
    /// <paramref name="options"/> say how the region faults (the command uses none, or transparent huge pages);
    /// <paramref name="progress"/> hears (file bytes consumed, file length) after each batch.</summary>
    public static LackeyReplayResult Replay(Machine machine, AddressSpace space, LackeyReader reader, AnonymousOptions options, Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(reader);
        space.MapAnonymous(new VirtAddr(0), space.UserTop.Value, Protection.All, options);
        using MmuContext context = space.CreateContext();
        var run = new Run(context);
        var batch = new LackeyAccess[BatchSize];
        var pages = new HashSet<ulong>();
        var byKind = new long[4];
        long accesses = 0;
        long translateTicks = 0;
        long start = Stopwatch.GetTimestamp();
        int count;
        while ((count = reader.Read(batch)) > 0)
        {
            long before = Stopwatch.GetTimestamp();
            run.TranslateBatch(batch.AsSpan(0, count));
            translateTicks += Stopwatch.GetTimestamp() - before;
            accesses += count;
            for (int i = 0; i < count; i++)
            {
                LackeyAccess access = batch[i];
                byKind[(int)access.Kind]++;
                for (ulong page = access.Address >> 12; page <= access.LastByte >> 12; page++) pages.Add(page);
            }
            progress?.Invoke(reader.FilePosition, reader.FileLength);
        }
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        return new LackeyReplayResult
        {
            Lines = reader.Lines,
            SkippedLines = reader.SkippedLines,
            BadLines = reader.BadLines,
            FirstBadLine = reader.FirstBadLine,
            AccessesByKind = byKind,
            Accesses = accesses,
            Translations = run.Translations,
            PageCrossings = run.Crossings,
            DistinctPages = pages.Count,
            Unresolved = run.Unresolved,
            FirstUnresolved = run.FirstUnresolved,
            TranslateTime = Stopwatch.GetElapsedTime(0, translateTicks),
            Elapsed = elapsed,
            Tlb = context.Statistics,
            Memory = machine.GetStatistics(),
            Tables = space.PageTables,
            HugePages = space.LeafCount(PageSize.Size2M),
            SmallPages = space.LeafCount(PageSize.Size4K),
        };
    }

    /// <summary>The translating side of a replay: one context and the counts it leaves.</summary>
    private sealed class Run(MmuContext context)
    {
        public long Translations;
        public long Crossings;
        public long Unresolved;
        public PageFault? FirstUnresolved;

        /// <summary>Translates every access of <paramref name="batch"/> in order.</summary>
        public void TranslateBatch(ReadOnlySpan<LackeyAccess> batch)
        {
            MmuContext cpu = context;
            long done = 0;
            foreach (LackeyAccess access in batch)
            {
                ulong first = access.Address >> 12;
                ulong last = access.LastByte >> 12;
                if (first == last)
                {
                    if (access.Kind == LackeyKind.Modify)
                    {
                        if (!cpu.TryTranslate(new VirtAddr(access.Address), AccessKind.Read, out _)) Failed(access.Address, AccessKind.Read);
                        if (!cpu.TryTranslate(new VirtAddr(access.Address), AccessKind.Write, out _)) Failed(access.Address, AccessKind.Write);
                        done += 2;
                    }
                    else
                    {
                        AccessKind kind = KindOf(access.Kind);
                        if (!cpu.TryTranslate(new VirtAddr(access.Address), kind, out _)) Failed(access.Address, kind);
                        done++;
                    }
                    continue;
                }
                Crossings++;
                // A modify reads the whole operand, then writes it.
                AccessKind pass = access.Kind == LackeyKind.Modify ? AccessKind.Read : KindOf(access.Kind);
                for (ulong page = first; page <= last; page++, done++) Touch(page == first ? access.Address : page << 12, pass);
                if (access.Kind == LackeyKind.Modify)
                    for (ulong page = first; page <= last; page++, done++) Touch(page == first ? access.Address : page << 12, AccessKind.Write);
            }
            Translations += done;
        }

        private void Touch(ulong va, AccessKind kind)
        {
            if (!context.TryTranslate(new VirtAddr(va), kind, out _)) Failed(va, kind);
        }

        /// <summary>A translation faulted and its demand fault did not resolve it: translated once more (counted by the
        /// context like any other) for the reason, which ends the replay if the machine is out of memory.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private void Failed(ulong va, AccessKind kind)
        {
            PageFault fault = context.Translate(new VirtAddr(va), kind).Fault;
            if (fault.Reason == FaultReason.OutOfMemory)
                throw new InvalidOperationException($"the simulated machine ran out of memory at {fault.Address} (give it more with --memory)");
            Unresolved++;
            FirstUnresolved ??= fault;
        }
    }

    /// <summary>The rights an access of <paramref name="kind"/> needs (a modify's write is translated separately).</summary>
    public static AccessKind KindOf(LackeyKind kind) => kind switch
    {
        LackeyKind.Instruction => AccessKind.Execute,
        LackeyKind.Store => AccessKind.Write,
        _ => AccessKind.Read,
    };
}
