using System;
using System.Diagnostics;
using System.Threading;
using PageGeometry = FastPt.Geometry.Paging;
using FastPt.Hardware;
using FastPt.Mm;
using FastPt.Sync;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>khugepaged's <c>collapse_huge_page</c> inside anonymous regions against demand faults and lockless
/// walkers in the same 2 MiB, in checked mode: faulting threads write and read back their own pages (a collapse
/// must neither lose a write nor leave a stale translation: what a thread wrote is what it reads, unless the region
/// was unmapped meanwhile), table readers hold a read-side section over the PTE table and check that no page it maps
/// was freed while they read, lockless translations throw on poison; the writer populates, collapses, re-splits,
/// unmaps and maps the regions again. At the end every counter balances. About a second; <c>FASTPT_STRESS_SECONDS</c>
/// sets a longer run.</summary>
public class CollapseFaultStressTests
{
    private const int Regions = 4;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static ulong VaOf(int i) => GiB + (ulong)i * 2 * MiB;

    // A page's value: its region and index, and a counter that makes every write distinct.
    private static ulong Tag(int region, int page, ulong counter) => ((ulong)(region + 1) << 48) | ((ulong)page << 32) | (counter & 0xffff_ffff);

    private static bool PossibleValue(int region, int page, ulong value) =>
        value == 0 || (value >> 48 == (ulong)(region + 1) && ((value >> 32) & 0xffff) == (ulong)page);

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public unsafe void Collapse_races_demand_faults_and_lockless_walkers_in_the_same_2_mib(int perBlock)
    {
        int milliseconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s * 1000 : 900;
        using Machine machine = FragmentMachines.Create(perBlock, checkedMode: true, memory: GiB);
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        var versions = new long[Regions]; // odd while the writer unmaps and maps the region again
        for (int i = 0; i < Regions; i++) space.MapAnonymous(V(VaOf(i)), 2 * MiB, Protection.ReadWrite);

        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        long readBack = 0, tablesRead = 0, collapses = 0, refused = 0;

        void Fail(Exception e)
        {
            Interlocked.CompareExchange(ref failure, e, null);
            stop.Cancel();
        }

        void Faulter(int owner)
        {
            try
            {
                var random = new Random(100 + owner);
                ulong counter = 0;
                var back = new byte[8];
                while (!stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions), page = random.Next(256) * 2 + owner; // each thread owns every other page
                    var va = V(VaOf(i) + ((ulong)page << 12));
                    long version = Volatile.Read(ref versions[i]);
                    ulong value = Tag(i, page, ++counter);
                    if (!space.TryWrite(va, BitConverter.GetBytes(value), out _)) continue; // unmapped just now
                    bool read = space.TryRead(va, back, out _);
                    if ((version & 1) != 0 || Volatile.Read(ref versions[i]) != version) continue; // the region was replaced
                    ulong got = BitConverter.ToUInt64(back);
                    if (!read || got != value)
                        throw new InvalidOperationException($"region {i} page {page}: wrote 0x{value:x}, read {(read ? $"0x{got:x}" : "a fault")} back (a lost write or a stale translation)");
                    // Someone else's page of the same region: its value, or none yet.
                    int other = page ^ 1;
                    if (space.TryRead(V(VaOf(i) + ((ulong)other << 12)), back, out _) && !PossibleValue(i, other, BitConverter.ToUInt64(back)))
                        throw new InvalidOperationException($"region {i} page {other} holds 0x{BitConverter.ToUInt64(back):x}, which no thread wrote there");
                    Interlocked.Increment(ref readBack);
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        // Inside one section: every page the PTE table maps must stay allocated until the section ends.
        void TableReader(int seed)
        {
            try
            {
                var random = new Random(seed);
                PhysicalMemory physical = machine.Memory.Physical;
                var frames = new FrameMap(machine.Memory);
                using RcuReader reader = machine.Memory.Rcu.RegisterReader();
                while (!stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions);
                    ulong va = VaOf(i);
                    reader.Enter();
                    try
                    {
                        ulong table = space.Mm.RootPa;
                        bool reached = true;
                        for (int level = space.Mm.RootLevel; level > PageGeometry.PteLevel && reached; level--)
                        {
                            ulong entry = Volatile.Read(ref physical.TableForRead(table)[PageGeometry.Index(level, va)]);
                            if (entry == PageTableEntry.Poison) throw new InvalidOperationException($"a table reader read the free poison in the level-{level} table 0x{table:x}");
                            reached = PageTableEntry.IsTable(entry, level);
                            table = PageTableEntry.TableAddress(entry);
                        }
                        if (!reached) continue;
                        ulong* ptes = physical.TableForRead(table);
                        for (int pass = 0; pass < 3; pass++)
                        {
                            if (pass > 0) Thread.Yield();
                            for (int k = 0; k < PageGeometry.EntriesPerTable; k++)
                            {
                                ulong pte = Volatile.Read(ref ptes[k]);
                                if (pte == 0) continue;
                                ulong pfn = PageTableEntry.LeafAddress(pte, PageGeometry.PteLevel) >> PageGeometry.PageShift;
                                if (pte == PageTableEntry.Poison || (pte & PageTableEntry.Present) == 0 || frames.IsFreed(pfn))
                                    throw new InvalidOperationException($"a table reader of region {i}, pass {pass}, read 0x{pte:x} at index {k} of the PTE table 0x{table:x}: {(pte == PageTableEntry.Poison ? "the table was freed" : "the page it maps was freed")} inside the read-side section");
                            }
                        }
                        Interlocked.Increment(ref tablesRead);
                    }
                    finally
                    {
                        reader.Exit();
                    }
                    // And the engine's own lockless walkers (they throw on poison in checked mode).
                    space.TranslateLockless(V(va + ((ulong)random.Next(512) << 12)));
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        void Writer()
        {
            try
            {
                var random = new Random(7);
                var clock = Stopwatch.StartNew();
                var one = new byte[1];
                while ((clock.ElapsedMilliseconds < milliseconds || collapses < 4) && clock.Elapsed < Bound && !stop.IsCancellationRequested)
                {
                    int i = random.Next(Regions);
                    ulong va = VaOf(i);
                    switch (random.Next(4))
                    {
                        case 0:
                        case 1:
                            // Populate what the faulters did not touch yet, then collapse (refused if a page went meanwhile).
                            for (int p = 0; p < 512; p++) space.TryRead(V(va + ((ulong)p << 12)), one, out _);
                            if (space.TryCollapse(V(va)).IsSuccess) collapses++;
                            else refused++;
                            break;
                        case 2:
                            // Re-split a collapsed region (a 4 KiB protection change splits the 2 MiB page), and back.
                            ulong page = va + ((ulong)random.Next(512) << 12);
                            space.Protect(V(page), Page, Protection.Read);
                            space.Protect(V(page), Page, Protection.ReadWrite);
                            break;
                        default:
                            Interlocked.Increment(ref versions[i]);
                            space.Unmap(V(va), 2 * MiB);
                            space.MapAnonymous(V(va), 2 * MiB, Protection.ReadWrite);
                            Interlocked.Increment(ref versions[i]);
                            break;
                    }
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                stop.Cancel();
            }
        }

        var threads = new[] { new Thread(() => Faulter(0)), new Thread(() => Faulter(1)), new Thread(() => TableReader(1)), new Thread(() => TableReader(2)), new Thread(Writer) };
        foreach (Thread t in threads)
        {
            t.IsBackground = true;
            t.Start();
        }
        foreach (Thread t in threads) Assert.True(t.Join(Bound + Bound));
        Assert.Null(failure);
        Assert.True(readBack > 0 && tablesRead > 0 && collapses > 0, $"read back {readBack}, tables read {tablesRead}, collapses {collapses} ({refused} refused)");

        MemoryStatistics running = machine.GetStatistics();
        Assert.Equal(collapses, running.CollapsesWithCopy); // inside anonymous regions every collapse copies
        space.Dispose();
        machine.RcuBarrier();
        Assert.Empty(CollapseStress.Unbalanced(PteFreeDeferScheme.MarkAndDeferAtLastReference, collapses, running, machine.GetStatistics(), freeBefore));
    }
}
