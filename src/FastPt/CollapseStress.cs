using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Mm;
using FastPt.Sync;

namespace FastPt;

/// <summary>The collapse workload shared by the fragments stress test and <c>fastpt scenario collapse</c>: walker
/// threads translate continuously while a writer collapses 2 MiB regions (in place and with a copy), re-splits
/// them, unmaps them (reclaiming their tables) and maps them again, on a checked-mode machine the caller made.</summary>
/// <remarks>
/// <para>Walkers: lockless translations, GUP-fast ranges, translations through the thread's CPU (TLB and hardware
/// walker), a GUP-fast walk that lingers over a whole table, and table readers. A table reader holds one read-side
/// section across several passes over the PTE table it reached through the PMD, yielding between passes so that
/// the writer runs while it reads; every entry it sees must be none or one the region's writer could have installed
/// — never the free poison, never another table's data — which is exactly what <c>pte_free_defer</c> and the
/// gather's RCU table free promise. Readers prefer the region the writer will change next (it says so one
/// operation ahead), so they are inside the tables that are retracted.</para>
/// <para>Each region carries a version (a seqlock): a translation is compared with what the region maps only when
/// no change to the region began or ended while it ran. A table reader's check needs no version: what it reads
/// through an RCU-protected pointer must be valid for the whole section.</para>
/// </remarks>
internal sealed unsafe class CollapseStress
{
    /// <summary>2 MiB regions the writer works on.</summary>
    public const int Regions = 8;

    /// <summary>The walker threads, by kind (see <see cref="Walker"/>): two table readers.</summary>
    public static readonly int[] WalkerKinds = [0, 1, 2, 3, 4, 4];

    private const ulong MiB = 1UL << 20;
    private const ulong GiB = 1UL << 30;
    private const ulong RegionBytes = 2 * MiB;
    private const int TablePasses = 3;

    private readonly Machine _machine;
    private readonly Settings _settings;
    private readonly AddressSpace _space;
    private readonly PhysAddr _pool;
    private readonly Region[] _regions = new Region[Regions];
    private readonly Stopwatch _clock = new();
    private bool _stopped;
    private Exception? _failure;
    private string? _firstViolation;
    private long _firstViolationTicks = -1;
    private long _verified, _tablesRead, _violations, _operations, _collapsesInPlace, _collapsesWithCopy;
    private int _nextRegion;

    /// <summary>How a run goes.</summary>
    /// <param name="RunTime">How long the writer works (longer, by at most <paramref name="StretchBound"/>, until
    /// it collapsed <paramref name="MinimumCollapses"/> regions in place and as many with a copy, and the walkers
    /// verified a translation and read a table whole).</param>
    /// <param name="Seed">Seeds the writer's and the walkers' choices.</param>
    /// <param name="MinimumCollapses">Collapses of each kind the run waits for on a starved machine.</param>
    /// <param name="StretchBound">The most the run time is stretched for them.</param>
    /// <param name="StopAtFirstViolation">End the run at the first violation (a test), or count them all (the CLI).</param>
    internal sealed record Settings(TimeSpan RunTime, int Seed, int MinimumCollapses, TimeSpan StretchBound, bool StopAtFirstViolation);

    /// <summary>What a run found. <see cref="End"/> is read after the address space was torn down, the pool freed
    /// and an RCU barrier.</summary>
    internal sealed record Outcome(long Operations, long CollapsesInPlace, long CollapsesWithCopy, long Verified, long TablesRead,
        long Violations, string? FirstViolation, TimeSpan? FirstViolationAfter, Exception? Failure, long FreePagesBefore,
        MemoryStatistics Running, MemoryStatistics End)
    {
        /// <summary>Collapses of both kinds.</summary>
        public long Collapses => CollapsesInPlace + CollapsesWithCopy;

        /// <summary>Every counter that does not balance, one line each (none when all do).</summary>
        public IReadOnlyList<string> Unbalanced(PteFreeDeferScheme scheme) => CollapseStress.Unbalanced(scheme, Collapses, Running, End, FreePagesBefore);
    }

    /// <summary>Every counter that does not balance after a collapse workload and the teardown of its address
    /// space (then an RCU barrier), one line each: <paramref name="collapses"/> done, counted in
    /// <paramref name="running"/> (read before the teardown) and deferred; no block, fragment, table, callback or
    /// frame left over (<paramref name="freePagesBefore"/> free frames again); the scheme's own balance.</summary>
    public static IReadOnlyList<string> Unbalanced(PteFreeDeferScheme scheme, long collapses, MemoryStatistics running, MemoryStatistics end,
        long freePagesBefore)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(end);
        MemoryStatistics e = end;
        var wrong = new List<string>();
        void Expect(string what, long expected, long actual)
        {
            if (expected != actual) wrong.Add(string.Create(CultureInfo.InvariantCulture, $"{what}: expected {expected}, got {actual}"));
        }
        Expect("collapses counted = collapses done", collapses, running.CollapsesInPlace + running.CollapsesWithCopy);
        Expect("tables deferred = collapses", collapses, e.TablesDeferred);
        Expect("reads of freed tables", 0, e.UseAfterFreeDetected);
        Expect("live blocks", 0, e.PteBlocks);
        Expect("blocks freed = blocks allocated", e.PteBlocksAllocated, e.PteBlocksFreed);
        Expect("fragments in use", 0, e.PteFragmentsInUse);
        Expect("fragments free", 0, e.PteFragmentsFree);
        Expect("RCU callbacks pending", 0, e.RcuPendingCallbacks);
        Expect("RCU table bytes pending", 0, e.RcuPendingTableBytes);
        Expect("RCU readers abandoned", 0, e.RcuAbandonedReaders);
        Expect("free frames = before", freePagesBefore, e.FreePages);
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
        return wrong;
    }

    private sealed class Region
    {
        public long Version;        // odd while the writer changes the region
        public long Unmaps;         // odd while the writer unmaps it: the only change that takes a PTE away
        public bool Mapped;
        public ulong Frame;         // physical start of what the region maps now
    }

    private CollapseStress(Machine machine, Settings settings)
    {
        _machine = machine;
        _settings = settings;
        _space = machine.CreateAddressSpace();
        // Two 2 MiB frames per region: it maps one, a collapse with copy moves it to the other.
        _pool = machine.AllocatePhysical(2 * Regions * RegionBytes);
        for (int i = 0; i < Regions; i++) _regions[i] = new Region();
    }

    /// <summary>Runs the workload on <paramref name="machine"/> (checked mode, otherwise unused: the run creates
    /// and tears down its own address space and pool) and returns what it found. Throws
    /// <see cref="TimeoutException"/> if a thread does not finish within <paramref name="joinBound"/> after the
    /// run time.</summary>
    public static Outcome Run(Machine machine, Settings settings, TimeSpan joinBound)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(settings);
        if (!machine.Memory.Checked) throw new ArgumentException("the collapse workload needs a checked-mode machine (poisoned frees)", nameof(machine));
        long freeBefore = machine.GetStatistics().FreePages;
        var run = new CollapseStress(machine, settings);
        return run.RunThreads(freeBefore, joinBound);
    }

    private Outcome RunThreads(long freeBefore, TimeSpan joinBound)
    {
        var threads = new List<Thread>();
        for (int k = 0; k < WalkerKinds.Length; k++)
        {
            int kind = WalkerKinds[k], seed = _settings.Seed * 31 + k;
            threads.Add(new Thread(() => Walker(kind, seed)) { IsBackground = true, Name = "collapse walker " + k });
        }
        threads.Add(new Thread(Writer) { IsBackground = true, Name = "collapse writer" });
        _clock.Start();
        foreach (Thread t in threads) t.Start();
        TimeSpan bound = joinBound + _settings.RunTime + _settings.StretchBound;
        foreach (Thread t in threads)
            if (!t.Join(bound)) throw new TimeoutException($"thread '{t.Name}' did not finish within {bound}");

        MemoryStatistics running = _machine.GetStatistics();
        _space.Dispose();
        _machine.FreePhysical(_pool, 2 * Regions * RegionBytes);
        _machine.RcuBarrier();
        TimeSpan? firstAfter = _firstViolationTicks < 0 ? null : TimeSpan.FromTicks(_firstViolationTicks);
        return new Outcome(_operations, _collapsesInPlace, _collapsesWithCopy, _verified, _tablesRead, _violations, _firstViolation,
            firstAfter, _failure, freeBefore, running, _machine.GetStatistics());
    }

    // Half the regions share a PMD table, half have one each (their unmap reclaims it too).
    private static ulong VaOf(int i) => i < Regions / 2 ? GiB + (ulong)i * RegionBytes : (ulong)(8 + i) * GiB;

    private ulong FrameOf(int i, int copy) => _pool.Value + ((ulong)(2 * i + copy) << 21);

    private void Violation(string what)
    {
        if (Interlocked.Increment(ref _violations) == 1)
        {
            _firstViolation = what;
            Volatile.Write(ref _firstViolationTicks, _clock.Elapsed.Ticks);
        }
        if (_settings.StopAtFirstViolation) Volatile.Write(ref _stopped, true);
    }

    private void Fail(Exception e)
    {
        Interlocked.CompareExchange(ref _failure, e, null);
        Volatile.Write(ref _stopped, true);
    }

    /// <summary>Compares one translation with what region <paramref name="i"/> maps, if the region did not change
    /// while it ran (the version read before it is still the version, and even).</summary>
    private void Check(int i, long version, bool succeeded, ulong pa, ulong offset, string how)
    {
        Region r = _regions[i];
        if ((version & 1) != 0 || Volatile.Read(ref r.Version) != version) return; // raced a change
        bool expectMapped = r.Mapped;
        ulong expected = r.Frame + offset;
        if (Volatile.Read(ref r.Version) != version) return;
        if (succeeded != expectMapped || (succeeded && pa != expected))
        {
            Violation(string.Create(CultureInfo.InvariantCulture,
                $"{how} of region {i} + 0x{offset:x}: got {(succeeded ? $"0x{pa:x}" : "a fault")}, expected {(expectMapped ? $"0x{expected:x}" : "a fault")}"));
            return;
        }
        Interlocked.Increment(ref _verified);
    }

    /// <summary>A GUP-fast walk that lingers inside its read-side section (a short spin per PTE, about a
    /// millisecond over a whole table), so that collapses and reclaims of the table it reads happen while it reads.</summary>
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

    /// <summary>One walker thread. Kinds: 0 lockless translation, 1 GUP-fast range, 2 translation through the
    /// thread's CPU, 3 the lingering GUP-fast walk of a whole region, 4 a table reader.</summary>
    private void Walker(int kind, int seed)
    {
        try
        {
            var random = new Random(seed);
            var pages = new PhysAddr[8];
            var firstPass = new ulong[Paging.EntriesPerTable];
            using RcuReader reader = _machine.Memory.Rcu.RegisterReader();
            while (!Volatile.Read(ref _stopped))
            {
                // Table readers and lingering walks go where the writer goes next half of the time.
                int i = kind >= 3 && random.Next(2) == 0 ? Volatile.Read(ref _nextRegion) : random.Next(Regions);
                ulong offset = (ulong)random.Next(512 - 8) << 12;
                long version = Volatile.Read(ref _regions[i].Version);
                var va = new VirtAddr(VaOf(i) + offset);
                switch (kind)
                {
                    case 0:
                    {
                        Translation t = _space.TranslateLockless(new VirtAddr(va.Value + 8));
                        Check(i, version, t.Succeeded, t.Succeeded ? t.PhysAddr.Value - 8 : 0, offset, "TranslateLockless");
                        break;
                    }
                    case 1:
                    {
                        int n = _space.GetPagesLockless(va, pages);
                        if (n == pages.Length)
                            for (int k = 0; k < n; k++) Check(i, version, true, pages[k].Value, offset + ((ulong)k << 12), "GetPagesLockless");
                        else if (n == 0)
                            Check(i, version, false, 0, offset, "GetPagesLockless");
                        break;
                    }
                    case 2:
                    {
                        Translation t = _space.Translate(va);
                        Check(i, version, t.Succeeded, t.Succeeded ? t.PhysAddr.Value : 0, offset, "Translate (TLB)");
                        break;
                    }
                    case 3:
                    {
                        // The whole region, slowly, from its first page (the first leaf's frame is the region's).
                        var ops = new LingeringOps();
                        LocklessWalkStatus status = PageWalk.WalkLockless(_machine.Memory.Physical, _space.Mm.RootPa, _space.Mm.RootLevel, reader,
                            checkPoison: true, VaOf(i), VaOf(i) + RegionBytes, ref ops, out ulong poisoned);
                        if (status == LocklessWalkStatus.Poisoned)
                            Violation(string.Create(CultureInfo.InvariantCulture, $"a lingering lockless walk of region {i} read the freed table 0x{poisoned:x}"));
                        else if (status == LocklessWalkStatus.Completed && ops.Leaves > 0)
                            Check(i, version, true, ops.FirstFrame, 0, "lingering lockless walk");
                        else if (ops.SawHole && ops.Leaves == 0)
                            Check(i, version, false, 0, 0, "lingering lockless walk");
                        break;
                    }
                    default:
                        ReadTable(i, reader, firstPass);
                        break;
                }
            }
        }
#pragma warning disable CA1031 // Whatever a walker throws is the run's finding.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Fail(e);
        }
    }

    /// <summary>A table reader: inside one read-side section, reaches region <paramref name="i"/>'s PMD entry (each
    /// entry read once), and if it leads to a PTE table, reads all 512 entries <see cref="TablePasses"/> times,
    /// yielding between passes. Until the section ends the table must stay what it was when the PMD pointed to it.</summary>
    private void ReadTable(int i, RcuReader reader, ulong[] firstPass)
    {
        PhysicalMemory physical = _machine.Memory.Physical;
        ulong va = VaOf(i);
        reader.Enter();
        try
        {
            ulong table = _space.Mm.RootPa;
            for (int level = _space.Mm.RootLevel; level > Paging.PmdLevel; level--)
            {
                ulong entry = Volatile.Read(ref physical.TableForRead(table)[Paging.Index(level, va)]);
                if (entry == PageTableEntry.Poison)
                {
                    Violation(string.Create(CultureInfo.InvariantCulture, $"a table reader of region {i} read the free poison in the level-{level} table 0x{table:x}"));
                    return;
                }
                if (!PageTableEntry.IsTable(entry, level)) return;
                table = PageTableEntry.TableAddress(entry);
            }
            ulong pmd = Volatile.Read(ref physical.TableForRead(table)[Paging.Index(Paging.PmdLevel, va)]);
            if (pmd == PageTableEntry.Poison)
            {
                Violation(string.Create(CultureInfo.InvariantCulture, $"a table reader of region {i} read the free poison in the PMD table 0x{table:x}"));
                return;
            }
            if ((pmd & PageTableEntry.Present) == 0) return;
            if (!PageTableEntry.IsTable(pmd, Paging.PmdLevel))
            {
                ulong frame = PageTableEntry.LeafAddress(pmd, Paging.PmdLevel);
                if (frame != FrameOf(i, 0) && frame != FrameOf(i, 1))
                    Violation(string.Create(CultureInfo.InvariantCulture, $"a table reader of region {i} read the 2 MiB leaf 0x{pmd:x}, which the region never maps"));
                return;
            }
            ulong ptePa = PageTableEntry.TableAddress(pmd);
            ulong* ptes = physical.TableForRead(ptePa);
            long unmaps = Volatile.Read(ref _regions[i].Unmaps);
            for (int pass = 0; pass < TablePasses; pass++)
            {
                if (pass > 0) Thread.Yield(); // let the writer retract (and, were it broken, free and reuse) the table
                for (int k = 0; k < Paging.EntriesPerTable; k++)
                {
                    ulong pte = Volatile.Read(ref ptes[k]);
                    if (pass == 0) firstPass[k] = pte;
                    if (pte == 0 || PossiblePte(i, k, pte)) continue;
                    Violation(string.Create(CultureInfo.InvariantCulture,
                        $"a table reader of region {i}, pass {pass}, read 0x{pte:x} at index {k} of the PTE table 0x{ptePa:x} it reached through the PMD: {(pte == PageTableEntry.Poison ? "the free poison (the table was freed inside the read-side section)" : "not an entry the region can hold (the table was reused)")}"));
                    return;
                }
                // Only an unmap takes a PTE away or changes its frame (a retracted table keeps its entries, a
                // protect keeps the frame): without one, what pass 0 saw present is still there. A table freed and
                // handed out again (zeroed) breaks that even where it holds no foreign entry yet.
                if (pass == 0 || (unmaps & 1) != 0) continue;
                for (int k = 0; k < Paging.EntriesPerTable; k++)
                {
                    ulong before = firstPass[k], now = Volatile.Read(ref ptes[k]);
                    if (before == 0 || ((now & PageTableEntry.Present) != 0 && PageTableEntry.LeafAddress(before, 1) == PageTableEntry.LeafAddress(now, 1))) continue;
                    if (Volatile.Read(ref _regions[i].Unmaps) != unmaps) break; // an unmap ran meanwhile
                    Violation(string.Create(CultureInfo.InvariantCulture,
                        $"a table reader of region {i}, pass {pass}, saw index {k} of the PTE table 0x{ptePa:x} go from 0x{before:x} to 0x{now:x} with no unmap of the region: the table was freed and reused inside the read-side section"));
                    return;
                }
            }
            Interlocked.Increment(ref _tablesRead);
        }
        finally
        {
            reader.Exit();
        }
    }

    /// <summary>True when <paramref name="pte"/> is one the writer can have put at index <paramref name="k"/> of
    /// region <paramref name="i"/>'s PTE table: present, mapping page <paramref name="k"/> of either of the
    /// region's two 2 MiB frames.</summary>
    private bool PossiblePte(int i, int k, ulong pte)
    {
        if ((pte & PageTableEntry.Present) == 0) return false;
        ulong frame = PageTableEntry.LeafAddress(pte, Paging.PteLevel), page = (ulong)k << Paging.PageShift;
        return frame == FrameOf(i, 0) + page || frame == FrameOf(i, 1) + page;
    }

    private void Change(int i, Action action)
    {
        Interlocked.Increment(ref _regions[i].Version);
        action();
        Interlocked.Increment(ref _regions[i].Version);
    }

    private void Writer()
    {
        try
        {
            var random = new Random(_settings.Seed);
            var clock = Stopwatch.StartNew();
            TimeSpan runTime = _settings.RunTime, bound = runTime + _settings.StretchBound;
            int i = random.Next(Regions);
            // The fixed time, stretched on a starved machine until a few collapses of each kind happened and the
            // walkers each got to finish some work (a reader thread may not be scheduled within the run time).
            while ((clock.Elapsed < runTime || _collapsesInPlace < _settings.MinimumCollapses || _collapsesWithCopy < _settings.MinimumCollapses
                    || Volatile.Read(ref _verified) == 0 || Volatile.Read(ref _tablesRead) == 0)
                && clock.Elapsed < bound && !Volatile.Read(ref _stopped))
            {
                // Say one operation ahead which region comes next, so that readers are inside it when it changes.
                int next = random.Next(Regions);
                Volatile.Write(ref _nextRegion, next);
                Operate(i, random);
                i = next;
            }
        }
#pragma warning disable CA1031 // Whatever the writer throws is the run's finding.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Fail(e);
        }
        finally
        {
            Volatile.Write(ref _stopped, true);
        }
    }

    private void Operate(int i, Random random)
    {
        Region r = _regions[i];
        ulong va = VaOf(i);
        _operations++;
        if (!r.Mapped)
        {
            ulong frame = FrameOf(i, random.Next(2));
            Change(i, () =>
            {
                _space.Map(new VirtAddr(va), new PhysAddr(frame), RegionBytes, Protection.ReadWrite, PageSize.Size4K);
                r.Frame = frame;
                r.Mapped = true;
            });
        }
        else if (_space.Lookup(new VirtAddr(va))!.Value.Size == PageSize.Size4K)
        {
            switch (random.Next(3))
            {
                case 0:
                    Change(i, () => _space.Collapse(new VirtAddr(va)));
                    _collapsesInPlace++;
                    break;
                case 1:
                    ulong target = r.Frame == FrameOf(i, 0) ? FrameOf(i, 1) : FrameOf(i, 0);
                    Change(i, () =>
                    {
                        _space.Collapse(new VirtAddr(va), new PhysAddr(target));
                        r.Frame = target;
                    });
                    _collapsesWithCopy++;
                    break;
                default:
                    // Reclaims the PTE table (and the PMD table of a region alone in its gigabyte).
                    Change(i, () => Unmap(r, va));
                    break;
            }
        }
        else if (random.Next(2) == 0)
        {
            // Re-split: protecting one page splits the leaf into a fresh PTE table; protecting it back leaves a
            // uniform table, collapsible again. Translations for reading see the same frames throughout.
            ulong page = va + ((ulong)random.Next(512) << 12);
            _space.Protect(new VirtAddr(page), Paging.PageSize, Protection.Read);
            _space.Protect(new VirtAddr(page), Paging.PageSize, Protection.ReadWrite);
        }
        else
        {
            Change(i, () => Unmap(r, va));
        }
    }

    private void Unmap(Region r, ulong va)
    {
        Interlocked.Increment(ref r.Unmaps);
        _space.Unmap(new VirtAddr(va), RegionBytes);
        r.Mapped = false;
        Interlocked.Increment(ref r.Unmaps);
    }
}
