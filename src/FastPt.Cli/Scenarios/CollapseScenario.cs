using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using FastPt.Hardware;
using FastPt.Mm;
using FastPt.Sync;

namespace FastPt.Cli.Scenarios;

/// <summary>khugepaged against lockless walkers: for each PTE-fragment size (1, 2 and 16 tables per block) and each
/// <c>pte_free_defer</c> scheme, a checked-mode machine of its own runs walker threads that translate continuously
/// (lockless, GUP-fast ranges, through their CPU's TLB, and one GUP-fast walk that lingers inside its read-side
/// section over a whole table, so that tables are retracted under it) while a writer collapses 2 MiB regions (in place and
/// with a copy), re-splits them, unmaps them (reclaiming their tables) and maps them again, for a fixed time. Every
/// translation whose region did not change while it ran is compared with what the region maps; freed tables are
/// poisoned, so a walk that reaches one is counted. It reports operations, grace periods, deferrals and
/// re-deferrals per configuration, and fails if any violation is found or any counter does not balance at the
/// end. The context's machine is not touched.</summary>
public sealed class CollapseScenario : IScenario
{
    private const ulong MiB = 1UL << 20;
    private const ulong GiB = 1UL << 30;
    private const ulong Page = 4096;
    private const int Regions = 8;
    private const int Walkers = 4;
    private const int MinimumCollapses = 4;
    private static readonly TimeSpan StretchBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan JoinBound = TimeSpan.FromSeconds(60);
    private static readonly int[] FragmentsPerBlock = [1, 2, 16];
    private static readonly PteFreeDeferScheme[] Schemes = [PteFreeDeferScheme.MarkAndDeferAtLastReference, PteFreeDeferScheme.DeferredRefcount];

    /// <summary>A scenario that runs each configuration for 250 ms.</summary>
    public CollapseScenario() : this(TimeSpan.FromMilliseconds(250))
    {
    }

    /// <summary>A scenario that runs each of its six configurations for <paramref name="runTime"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="runTime"/> is not positive.</exception>
    public CollapseScenario(TimeSpan runTime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(runTime, TimeSpan.Zero);
        RunTime = runTime;
    }

    /// <summary>How long the writer runs in each configuration (longer, by at most 30 s, until it collapsed at
    /// least 4 regions in place and 4 with a copy: on a starved machine the fixed time may not be enough).</summary>
    public TimeSpan RunTime { get; }

    /// <inheritdoc/>
    public string Name => "collapse";

    /// <inheritdoc/>
    public string Description => "Lockless and TLB walkers against collapse, re-split, unmap and reclaim, per fragment size and pte_free_defer scheme, in checked mode; every counter must balance.";

    /// <inheritdoc/>
    public ScenarioReport Run(ScenarioContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var report = new ScenarioReport(this);
        var rows = new List<IReadOnlyList<ReportValue>>();
        var balance = new List<IReadOnlyList<ReportValue>>();
        int total = FragmentsPerBlock.Length * Schemes.Length, done = 0;
        long violations = 0;
        foreach (PteFreeDeferScheme scheme in Schemes)
        {
            foreach (int perBlock in FragmentsPerBlock)
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"{SchemeName(scheme)}, {perBlock}/block");
                context.ReportProgress(name, done, total);
                Outcome o = RunOne(context, perBlock, scheme, context.Seed + done);
                done++;
                violations += o.Mismatches + o.End.UseAfterFreeDetected;
                MemoryStatistics e = o.End;
                rows.Add(
                [
                    ReportValue.FromText(SchemeName(scheme)), ReportValue.FromWholeNumber(perBlock),
                    ReportValue.FromWholeNumber(o.Operations), ReportValue.FromWholeNumber(e.CollapsesInPlace + e.CollapsesWithCopy),
                    ReportValue.FromWholeNumber(o.Verified), ReportValue.FromWholeNumber(e.RcuGracePeriods),
                    ReportValue.FromWholeNumber(e.TablesDeferred), ReportValue.FromWholeNumber(e.DeferredHeadsQueued),
                    ReportValue.FromWholeNumber(e.Redeferrals), ReportValue.FromWholeNumber(e.DeferredBlocksFreed),
                    ReportValue.FromWholeNumber(e.TableBatchesQueued), ReportValue.FromWholeNumber(e.PteBlocksAllocated),
                    ReportValue.FromWholeNumber(o.Mismatches + e.UseAfterFreeDetected),
                ]);
                if (o.Failure is not null)
                    report.Check($"{name}: every thread ran to the end", false, $"{o.Failure.GetType().Name}: {o.Failure.Message}");
                report.Check($"{name}: walkers and writer all worked", o.Verified > 0 && o.Operations > 0 && e.CollapsesInPlace + e.CollapsesWithCopy > 0,
                    string.Create(CultureInfo.InvariantCulture, $"{o.Verified:N0} translations verified, {o.Operations:N0} operations, {e.CollapsesInPlace + e.CollapsesWithCopy:N0} collapses"));
                report.Check($"{name}: no violation (wrong translation or read of a freed table)", o.Mismatches == 0 && e.UseAfterFreeDetected == 0,
                    string.Create(CultureInfo.InvariantCulture, $"{o.Mismatches} wrong translations{(o.FirstMismatch is null ? "" : " (first: " + o.FirstMismatch + ")")}, {e.UseAfterFreeDetected} reads of freed memory"));
                string unbalanced = Unbalanced(o, scheme);
                report.Check($"{name}: every counter balances after teardown", unbalanced.Length == 0, unbalanced.Length == 0 ? "all balance" : unbalanced);
                balance.Add(
                [
                    ReportValue.FromText(name), ReportValue.FromWholeNumber(e.PteBlocksAllocated - e.PteBlocksFreed),
                    ReportValue.FromWholeNumber(e.PteFragmentsInUse), ReportValue.FromWholeNumber(e.PteFragmentsFree),
                    ReportValue.FromWholeNumber(e.RcuPendingCallbacks), ReportValue.FromWholeNumber(e.RcuPendingTableBytes),
                    ReportValue.FromWholeNumber(o.FreePagesBefore - e.FreePages),
                ]);
            }
        }
        context.ReportProgress("done", total, total);
        report.AddFact("run time per configuration", RunTime);
        report.AddFact("walker threads", Walkers + 0L);
        report.AddFact("regions (2 MiB each)", Regions + 0L);
        report.AddFact("violations", violations);
        report.AddTable(new ReportTable("Per configuration",
            ["scheme", "fragments/block", "operations", "collapses", "translations verified", "grace periods", "tables deferred",
             "heads queued", "re-deferrals", "blocks freed after RCU", "table batches", "blocks allocated", "violations"], rows));
        report.AddTable(new ReportTable("Left after teardown (all 0)",
            ["configuration", "blocks", "fragments in use", "fragments free", "RCU callbacks", "RCU bytes", "frames"], balance));
        return report;
    }

    private static string SchemeName(PteFreeDeferScheme scheme) => scheme switch
    {
        PteFreeDeferScheme.MarkAndDeferAtLastReference => "merged (mark, defer at last ref)",
        _ => "PTE_FREE_DEFERRED refcount",
    };

    private static string Unbalanced(Outcome o, PteFreeDeferScheme scheme)
    {
        MemoryStatistics e = o.End;
        var wrong = new List<string>();
        void Expect(string what, long expected, long actual)
        {
            if (expected != actual) wrong.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: expected {expected}, got {actual}"));
        }
        Expect("tables deferred = collapses", o.Collapses, e.TablesDeferred);
        Expect("collapses counted = collapses done", o.Collapses, e.CollapsesInPlace + e.CollapsesWithCopy);
        Expect("live blocks", 0, e.PteBlocks);
        Expect("blocks freed = blocks allocated", e.PteBlocksAllocated, e.PteBlocksFreed);
        Expect("fragments in use", 0, e.PteFragmentsInUse);
        Expect("fragments free", 0, e.PteFragmentsFree);
        Expect("RCU callbacks pending", 0, e.RcuPendingCallbacks);
        Expect("RCU table bytes pending", 0, e.RcuPendingTableBytes);
        Expect("RCU readers abandoned", 0, e.RcuAbandonedReaders);
        Expect("free frames = before", o.FreePagesBefore, e.FreePages);
        long tables = 0;
        foreach (long n in e.UserPageTablesByLevel) tables += n;
        Expect("user page tables", 0, tables);
        if (scheme == PteFreeDeferScheme.MarkAndDeferAtLastReference)
        {
            // Each queued head frees its block after the grace period; nothing is ever re-deferred.
            Expect("blocks freed after RCU = heads queued", e.DeferredHeadsQueued, e.DeferredBlocksFreed);
            Expect("re-deferrals", 0, e.Redeferrals);
        }
        else if (e.DeferredBlocksFreed > e.DeferredHeadsQueued || e.Redeferrals > e.DeferredHeadsQueued)
        {
            wrong.Add(string.Create(CultureInfo.InvariantCulture,
                $"blocks freed after RCU ({e.DeferredBlocksFreed}) and re-deferrals ({e.Redeferrals}) cannot exceed heads queued ({e.DeferredHeadsQueued})"));
        }
        return string.Join("; ", wrong);
    }

    /// <summary>A GUP-fast walk that lingers inside its read-side section (a short spin per PTE, about a
    /// millisecond over a whole table): a table freed before the walker left its section is then read as poison.</summary>
    private struct LingeringOps : ILocklessWalkOps
    {
        public int Leaves;
        public ulong FirstFrame;
        public bool SawHole;

        public bool Leaf(ulong address, ulong entry, int level, int rights)
        {
            if (Leaves++ == 0) FirstFrame = PageTableEntry.LeafAddress(entry, level);
            Thread.SpinWait(20);
            return true;
        }

        public bool Hole(ulong address, ulong entry, int level)
        {
            SawHole = true;
            return false;
        }

        public void Rewind(ulong address)
        {
            Leaves = 0;
            SawHole = false;
        }
    }

    private sealed class Region
    {
        public long Version;        // odd while the writer changes the region (a seqlock for the checkers)
        public bool Mapped;
        public ulong Frame;         // physical start of what the region maps now
    }

    private sealed record Outcome(long Operations, long Collapses, long Verified, long Mismatches, string? FirstMismatch,
        Exception? Failure, long FreePagesBefore, MemoryStatistics End);

    private Outcome RunOne(ScenarioContext context, int perBlock, PteFreeDeferScheme scheme, int seed)
    {
        using var machine = new Machine(new MachineOptions
        {
            MemorySize = 512 * MiB, PagingMode = context.Options.PagingMode, CheckedMode = true,
            PteFragmentsPerBlock = perBlock, PteFreeDeferScheme = scheme,
        });
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        // Two 2 MiB frames per region: it maps one, a collapse with copy moves it to the other.
        PhysAddr pool = machine.AllocatePhysical(2 * Regions * 2 * MiB);
        var regions = new Region[Regions];
        for (int i = 0; i < Regions; i++) regions[i] = new Region();
        // Half the regions share a PMD table, half have one each (their unmap reclaims it too).
        ulong VaOf(int i) => i < Regions / 2 ? GiB + (ulong)i * 2 * MiB : (ulong)(8 + i) * GiB;
        ulong FrameOf(int i, int copy) => pool.Value + ((ulong)(2 * i + copy) << 21);

        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        string? firstMismatch = null;
        long verified = 0, mismatches = 0, operations = 0, collapsesInPlace = 0, collapsesWithCopy = 0;

        void Check(int i, long version, bool succeeded, ulong pa, ulong offset, string how)
        {
            Region r = regions[i];
            if ((version & 1) != 0 || Volatile.Read(ref r.Version) != version) return; // raced a change
            bool expectMapped = r.Mapped;
            ulong expected = r.Frame + offset;
            if (Volatile.Read(ref r.Version) != version) return;
            if (succeeded != expectMapped || (succeeded && pa != expected))
            {
                if (Interlocked.Increment(ref mismatches) == 1)
                    firstMismatch = string.Create(CultureInfo.InvariantCulture,
                        $"{how} of region {i} + 0x{offset:x}: got {(succeeded ? $"0x{pa:x}" : "a fault")}, expected {(expectMapped ? $"0x{expected:x}" : "a fault")}");
                return;
            }
            Interlocked.Increment(ref verified);
        }

        void Walker(int kind)
        {
            try
            {
                var random = new Random(seed * 31 + kind);
                var pages = new PhysAddr[8];
                using RcuReader reader = machine.Memory.Rcu.RegisterReader();
                while (!stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions);
                    ulong offset = (ulong)random.Next(512 - 8) << 12;
                    long version = Volatile.Read(ref regions[i].Version);
                    VirtAddr va = new(VaOf(i) + offset);
                    if (kind == 0)
                    {
                        Translation t = space.TranslateLockless(va);
                        Check(i, version, t.Succeeded, t.Succeeded ? t.PhysAddr.Value : 0, offset, "TranslateLockless");
                    }
                    else if (kind == 1)
                    {
                        int n = space.GetPagesLockless(va, pages);
                        if (n == pages.Length)
                            for (int k = 0; k < n; k++) Check(i, version, true, pages[k].Value, offset + ((ulong)k << 12), "GetPagesLockless");
                        else if (n == 0)
                            Check(i, version, false, 0, offset, "GetPagesLockless");
                    }
                    else if (kind == 3)
                    {
                        // The whole region, slowly, from its first page (the first leaf's frame is the region's).
                        var ops = new LingeringOps();
                        LocklessWalkStatus status = PageWalk.WalkLockless(machine.Memory.Physical, space.Mm.RootPa, space.Mm.RootLevel, reader,
                            checkPoison: true, VaOf(i), VaOf(i) + 2 * MiB, ref ops, out ulong poisoned);
                        if (status == LocklessWalkStatus.Poisoned)
                            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"a lingering walk of region {i} read the freed table 0x{poisoned:x}"));
                        if (status == LocklessWalkStatus.Completed && ops.Leaves > 0)
                            Check(i, version, true, ops.FirstFrame, 0, "lingering lockless walk");
                        else if (ops.SawHole && ops.Leaves == 0)
                            Check(i, version, false, 0, 0, "lingering lockless walk");
                    }
                    else
                    {
                        Translation t = space.Translate(va);
                        Check(i, version, t.Succeeded, t.Succeeded ? t.PhysAddr.Value : 0, offset, "Translate (TLB)");
                    }
                }
            }
#pragma warning disable CA1031 // Whatever a walker throws is the scenario's finding.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref failure, e, null);
                stop.Cancel();
            }
        }

        void Change(int i, Action action)
        {
            Interlocked.Increment(ref regions[i].Version);
            action();
            Interlocked.Increment(ref regions[i].Version);
        }

        void Writer()
        {
            try
            {
                var random = new Random(seed);
                var clock = Stopwatch.StartNew();
                // The fixed time, stretched on a starved machine until a few collapses of each kind happened.
                while ((clock.Elapsed < RunTime || collapsesInPlace < MinimumCollapses || collapsesWithCopy < MinimumCollapses)
                    && clock.Elapsed < RunTime + StretchBound && !stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions);
                    Region r = regions[i];
                    ulong va = VaOf(i);
                    operations++;
                    if (!r.Mapped)
                    {
                        ulong frame = FrameOf(i, random.Next(2));
                        Change(i, () =>
                        {
                            space.Map(new VirtAddr(va), new PhysAddr(frame), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
                            r.Frame = frame;
                            r.Mapped = true;
                        });
                    }
                    else if (space.Lookup(new VirtAddr(va))!.Value.Size == PageSize.Size4K)
                    {
                        switch (random.Next(3))
                        {
                            case 0:
                                Change(i, () => space.Collapse(new VirtAddr(va)));
                                collapsesInPlace++;
                                break;
                            case 1:
                                ulong target = r.Frame == FrameOf(i, 0) ? FrameOf(i, 1) : FrameOf(i, 0);
                                Change(i, () =>
                                {
                                    space.Collapse(new VirtAddr(va), new PhysAddr(target));
                                    r.Frame = target;
                                });
                                collapsesWithCopy++;
                                break;
                            default:
                                // Reclaims the PTE table (and the PMD table of a region alone in its gigabyte).
                                Change(i, () =>
                                {
                                    space.Unmap(new VirtAddr(va), 2 * MiB);
                                    r.Mapped = false;
                                });
                                break;
                        }
                    }
                    else if (random.Next(2) == 0)
                    {
                        // Re-split: protecting one page splits the leaf into a fresh PTE table; protecting it back
                        // leaves a uniform table, collapsible again. Reads see the same frames throughout.
                        ulong page = va + ((ulong)random.Next(512) << 12);
                        space.Protect(new VirtAddr(page), Page, Protection.Read);
                        space.Protect(new VirtAddr(page), Page, Protection.ReadWrite);
                    }
                    else
                    {
                        Change(i, () =>
                        {
                            space.Unmap(new VirtAddr(va), 2 * MiB);
                            r.Mapped = false;
                        });
                    }
                }
            }
#pragma warning disable CA1031 // Whatever the writer throws is the scenario's finding.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
            finally
            {
                stop.Cancel();
            }
        }

        var threads = new List<Thread>();
        for (int k = 0; k < Walkers; k++)
        {
            int kind = k;
            threads.Add(new Thread(() => Walker(kind)) { IsBackground = true, Name = "collapse walker " + kind });
        }
        threads.Add(new Thread(Writer) { IsBackground = true, Name = "collapse writer" });
        foreach (Thread t in threads) t.Start();
        foreach (Thread t in threads)
        {
            if (!t.Join(JoinBound + RunTime))
                throw new TimeoutException($"thread '{t.Name}' did not finish within {JoinBound + RunTime}");
        }

        space.Dispose();
        machine.FreePhysical(pool, 2 * Regions * 2 * MiB);
        machine.RcuBarrier();
        return new Outcome(operations, collapsesInPlace + collapsesWithCopy, verified, mismatches, firstMismatch, failure, freeBefore, machine.GetStatistics());
    }
}
