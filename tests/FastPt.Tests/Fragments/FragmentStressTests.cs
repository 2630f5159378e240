using System;
using System.Diagnostics;
using System.Threading;
using FastPt.Mm;
using FastPt.Sync;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>Lockless walkers (single translations and GUP-fast ranges) and a CPU translating through its TLB race
/// a writer that collapses regions (in place and with a copy), re-splits them, unmaps them (reclaiming their
/// tables) and maps them again, in checked mode: freed tables are poisoned, so any walk that reaches one is
/// reported. Each region carries a version (seqlock): a translation is checked only when no change to its region
/// began or ended while it ran. At the end every deferred table has been freed and every counter balances.</summary>
public class FragmentStressTests
{
    private const int Regions = 8;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private sealed class Region
    {
        public long Version;        // odd while the writer changes the region
        public bool Mapped;
        public ulong Frame;         // physical start of what the region maps now
    }

    /// <summary>A GUP-fast walk that lingers inside its read-side section (a short spin per PTE, about a
    /// millisecond over a whole table), so that collapses and reclaims of the table it reads happen while it
    /// reads: a table freed before the walker left its section is then read as poison.</summary>
    private struct LingeringOps : ILocklessWalkOps
    {
        public int Leaves;
        public ulong FirstFrame;
        public bool Hole;

        public bool Leaf(ulong address, ulong entry, int level, int rights)
        {
            if (Leaves++ == 0) FirstFrame = FastPt.Hardware.PageTableEntry.LeafAddress(entry, level);
            Thread.SpinWait(20);
            return true;
        }

        bool ILocklessWalkOps.Hole(ulong address, ulong entry, int level)
        {
            Hole = true;
            return false;
        }

        public void Rewind(ulong address)
        {
            Leaves = 0;
            Hole = false;
        }
    }

    [Theory]
    [InlineData(1, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(1, PteFreeDeferScheme.DeferredRefcount)]
    [InlineData(2, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(2, PteFreeDeferScheme.DeferredRefcount)]
    [InlineData(16, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(16, PteFreeDeferScheme.DeferredRefcount)]
    public void Walkers_never_read_a_freed_table_and_every_deferred_table_is_freed(int perBlock, PteFreeDeferScheme scheme)
    {
        int milliseconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s * 1000 : 900;
        using Machine machine = FragmentMachines.Create(perBlock, scheme, checkedMode: true, memory: 2 * GiB);
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
        long verified = 0, collapses = 0, changes = 0;

        void Check(int i, long version, bool succeeded, ulong pa, ulong offset, string how)
        {
            Region r = regions[i];
            if ((version & 1) != 0 || Volatile.Read(ref r.Version) != version) return; // raced a change
            bool expectMapped = r.Mapped;
            ulong expected = r.Frame + offset;
            if (Volatile.Read(ref r.Version) != version) return;
            if (succeeded != expectMapped || (succeeded && pa != expected))
                throw new InvalidOperationException($"{how} of region {i} + 0x{offset:x}: got {(succeeded ? $"0x{pa:x}" : "a fault")}, expected {(expectMapped ? $"0x{expected:x}" : "a fault")}");
            Interlocked.Increment(ref verified);
        }

        void Walker(int seed)
        {
            try
            {
                var random = new Random(seed);
                var pages = new PhysAddr[8];
                using RcuReader reader = machine.Memory.Rcu.RegisterReader();
                while (!stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions);
                    ulong offset = (ulong)random.Next(512 - 8) << 12;
                    long version = Volatile.Read(ref regions[i].Version);
                    switch (seed % 4)
                    {
                        case 3:
                        {
                            // The whole region, slowly: from its first page.
                            var ops = new LingeringOps();
                            LocklessWalkStatus status = PageWalk.WalkLockless(machine.Memory.Physical, space.Mm.RootPa, space.Mm.RootLevel, reader,
                                checkPoison: true, VaOf(i), VaOf(i) + 2 * MiB, ref ops, out ulong poisoned);
                            if (status == LocklessWalkStatus.Poisoned)
                                throw new InvalidOperationException($"a lingering walk of region {i} read the freed table 0x{poisoned:x}");
                            if (status == LocklessWalkStatus.Completed && ops.Leaves > 0)
                                Check(i, version, true, ops.FirstFrame, 0, "lingering lockless walk");
                            else if (ops.Hole && ops.Leaves == 0)
                                Check(i, version, false, 0, 0, "lingering lockless walk");
                            break;
                        }
                        case 0:
                        {
                            Translation t = space.TranslateLockless(V(VaOf(i) + offset + 8));
                            Check(i, version, t.Succeeded, t.Succeeded ? t.PhysAddr.Value - 8 : 0, offset, "TranslateLockless");
                            break;
                        }
                        case 1:
                        {
                            int n = space.GetPagesLockless(V(VaOf(i) + offset), pages);
                            if (n == pages.Length)
                                for (int k = 0; k < n; k++) Check(i, version, true, pages[k].Value, offset + ((ulong)k << 12), "GetPagesLockless");
                            else if (n == 0)
                                Check(i, version, false, 0, offset, "GetPagesLockless");
                            break;
                        }
                        default:
                        {
                            Translation t = space.Translate(V(VaOf(i) + offset));
                            Check(i, version, t.Succeeded, t.Succeeded ? t.PhysAddr.Value : 0, offset, "Translate (TLB)");
                            break;
                        }
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
                stop.Cancel();
            }
        }

        void Change(int i, Action action)
        {
            Interlocked.Increment(ref regions[i].Version);
            action();
            Interlocked.Increment(ref regions[i].Version);
            changes++;
        }

        void Writer()
        {
            try
            {
                var random = new Random(11);
                var clock = Stopwatch.StartNew();
                while (clock.ElapsedMilliseconds < milliseconds && !stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions);
                    Region r = regions[i];
                    ulong va = VaOf(i);
                    Mapping? now = space.Lookup(V(va));
                    if (!r.Mapped)
                    {
                        ulong frame = FrameOf(i, random.Next(2));
                        Change(i, () =>
                        {
                            space.Map(V(va), new PhysAddr(frame), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
                            r.Frame = frame;
                            r.Mapped = true;
                        });
                    }
                    else if (now!.Value.Size == PageSize.Size4K)
                    {
                        switch (random.Next(3))
                        {
                            case 0:
                                Change(i, () => space.Collapse(V(va)));
                                collapses++;
                                break;
                            case 1:
                                ulong target = r.Frame == FrameOf(i, 0) ? FrameOf(i, 1) : FrameOf(i, 0);
                                Change(i, () =>
                                {
                                    space.Collapse(V(va), new PhysAddr(target));
                                    r.Frame = target;
                                });
                                collapses++;
                                break;
                            default:
                                Change(i, () =>
                                {
                                    space.Unmap(V(va), 2 * MiB); // reclaims the PTE table (and the PMD table alone in its GiB)
                                    r.Mapped = false;
                                });
                                break;
                        }
                    }
                    else if (random.Next(2) == 0)
                    {
                        // Re-split: protecting one page splits the leaf into a PTE table; protecting it back leaves
                        // a uniform table, collapsible again. Translations for reading see the same frames throughout.
                        ulong page = va + ((ulong)random.Next(512) << 12);
                        space.Protect(V(page), Page, Protection.Read);
                        space.Protect(V(page), Page, Protection.ReadWrite);
                    }
                    else
                    {
                        Change(i, () =>
                        {
                            space.Unmap(V(va), 2 * MiB);
                            r.Mapped = false;
                        });
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
            }
            finally
            {
                stop.Cancel();
            }
        }

        var threads = new[] { new Thread(() => Walker(0)), new Thread(() => Walker(1)), new Thread(() => Walker(2)), new Thread(() => Walker(3)), new Thread(Writer) };
        foreach (Thread t in threads)
        {
            t.IsBackground = true;
            t.Start();
        }
        foreach (Thread t in threads) Assert.True(t.Join(Bound + TimeSpan.FromMilliseconds(milliseconds)));
        Assert.Null(failure);
        Assert.True(verified > 0 && collapses > 0 && changes > 0, $"verified {verified}, collapses {collapses}, changes {changes}");

        MemoryStatistics running = machine.GetStatistics();
        Assert.Equal(collapses, running.CollapsesInPlace + running.CollapsesWithCopy);
        Assert.Equal(collapses, running.TablesDeferred);
        space.Dispose();
        machine.FreePhysical(pool, 2 * Regions * 2 * MiB);
        machine.RcuBarrier();

        MemoryStatistics end = machine.GetStatistics();
        Assert.Equal(0, end.UseAfterFreeDetected);
        Assert.Equal(0, end.PteBlocks);
        Assert.Equal(0, end.PteFragmentsInUse);
        Assert.Equal(0, end.PteFragmentsFree);
        Assert.Equal(end.PteBlocksAllocated, end.PteBlocksFreed);
        Assert.Equal(0, end.RcuPendingTableBytes);
        Assert.Equal(0, end.RcuPendingCallbacks);
        Assert.Equal(0, end.RcuAbandonedReaders);
        Assert.All(end.UserPageTablesByLevel, n => Assert.Equal(0, n));
        Assert.Equal(freeBefore, end.FreePages);
    }
}
