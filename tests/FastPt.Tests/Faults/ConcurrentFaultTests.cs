using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using FastPt.Tests.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Faults;

/// <summary>Demand faults on many threads at once, in every lock mode. Each page holds one 8-byte slot per thread;
/// only its owner writes a slot, with increasing values, so a slot is a register whose history the test knows:
/// any read must return a value between the last write that completed before it and the last that began before it
/// ended (linearizability against that reference). A lost entry or a double install (two frames for one page) loses
/// a write and fails the check; the counters then prove each page was mapped once and everything came back.</summary>
public class ConcurrentFaultTests
{
    private const ulong Base = 0x7f00_0000_0000;
    private const int Threads = 4;

    public static IEnumerable<object[]> Cases() =>
        from mode in new[] { PageTableLockMode.Inline, PageTableLockMode.Allocated, PageTableLockMode.SingleLock }
        from options in new[] { AnonymousOptions.None, AnonymousOptions.TransparentHugePages, AnonymousOptions.ZeroPage }
        select new object[] { mode, options };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Threads_faulting_the_same_and_different_pages_are_linearizable_and_map_each_page_once(PageTableLockMode mode, AnonymousOptions options)
    {
        const ulong Length = 8 * MiB; // four PTE tables (or four huge pages), one PMD table
        const int Pages = (int)(Length / (4 * KiB));
        using Machine machine = PageTableLockTests.Create(mode, checkedMode: true, memory: GiB);
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        space.MapAnonymous(V(Base), Length, Protection.ReadWrite, options);
        long freeEmpty = machine.GetStatistics().FreePages; // the root is allocated, nothing else
        // started[p, t]: the last value thread t began writing to its slot of page p; completed: the last it finished.
        long[] started = new long[Pages * Threads], completed = new long[Pages * Threads];
        using var sweep = new Barrier(Threads);
        Exception? failure = null;
        long reads = 0;

        void Worker(int t)
        {
            var random = new Random(1000 + t);
            using MmuContext cpu = space.CreateContext();
            long counter = 0;
            try
            {
                void WriteOwn(int page)
                {
                    long value = ++counter * Threads + t + 1; // ends in the owner's number, never 0
                    int slot = page * Threads + t;
                    Volatile.Write(ref started[slot], value);
                    cpu.Write(V(Base + (ulong)page * 4 * KiB + (ulong)t * 8), value);
                    Volatile.Write(ref completed[slot], value);
                }
                void ReadAny(int page, int owner)
                {
                    int slot = page * Threads + owner;
                    long low = Volatile.Read(ref completed[slot]);
                    long value = cpu.Read<long>(V(Base + (ulong)page * 4 * KiB + (ulong)owner * 8));
                    long high = Volatile.Read(ref started[slot]);
                    if (value < low || value > high || (value != 0 && (value - 1) % Threads != owner))
                        throw new InvalidOperationException($"page {page} slot {owner}: read {value}, the register held a value in [{low}, {high}]");
                    Interlocked.Increment(ref reads);
                }
                // Every thread first-touches the pages in the same order at the same time: the same page, the same
                // PTE table and the same PMD entry are faulted by all of them at once; half start with a read.
                sweep.SignalAndWait();
                for (int page = 0; page < Pages; page++)
                {
                    if (t % 2 == 0) ReadAny(page, (t + 1) % Threads);
                    WriteOwn(page);
                }
                // Then random reads of every slot and writes of one's own, in all the pages.
                for (int i = 0; i < 4 * Pages; i++)
                {
                    int page = random.Next(Pages);
                    if (random.Next(3) == 0) WriteOwn(page);
                    else ReadAny(page, random.Next(Threads));
                }
            }
            catch (Exception e)
            {
                failure ??= e;
                sweep.RemoveParticipant();
            }
        }

        Thread[] threads = Enumerable.Range(0, Threads).Select(t => new Thread(() => Worker(t))).ToArray();
        foreach (Thread thread in threads) thread.Start();
        foreach (Thread thread in threads) thread.Join();
        Assert.Null(failure);
        Assert.True(reads > Pages, $"{reads} reads checked");

        // Nothing lost: every slot holds its owner's last write, read back through another CPU.
        for (int page = 0; page < Pages; page++)
            for (int t = 0; t < Threads; t++)
                Assert.Equal(completed[page * Threads + t], space.Read<long>(V(Base + (ulong)page * 4 * KiB + (ulong)t * 8)));
        // Each page mapped once: the leaves the tables hold (a walk, not a counter) are the pages, and the frames
        // that left the allocator are exactly those pages and tables (a double install would leak one).
        bool huge = options == AnonymousOptions.TransparentHugePages;
        List<(ulong Va, ulong Pa, PageSize Size, Protection Protection)> leaves = Leaves(space, Base, Length);
        Assert.Equal(huge ? 4 : Pages, leaves.Count);
        Assert.All(leaves, l => Assert.Equal(huge ? PageSize.Size2M : PageSize.Size4K, l.Size));
        Assert.Equal(leaves.Count, leaves.Select(l => l.Pa).Distinct().Count());
        Assert.Equal(huge ? 4 : Pages, space.LeafCount(huge ? PageSize.Size2M : PageSize.Size4K));
        MemoryStatistics during = machine.GetStatistics();
        Assert.Equal(freeEmpty - Pages - space.PageTables.Total - during.PtlockSlabPages, during.FreePages);
        Assert.Equal(huge ? 0 : 4, space.PageTables.Pte);
        Assert.Equal(1, space.PageTables.Pmd);
        Assert.Equal(0, during.UseAfterFreeDetected);

        space.Dispose();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(freeBefore, after.FreePages);
        Assert.Equal(0, after.UserPageTablesByLevel.Sum());
        PageTableConstructorTests.AssertLocksBalance(machine);
    }

    /// <summary>Faulting threads race a thread that unmaps and re-reserves regions (freeing their frames and tables)
    /// and changes their rights, in checked mode: freed tables and frames are poisoned, so a fault that installs
    /// into a freed table, or a CPU that keeps a stale translation, is caught. Each region carries a version
    /// (seqlock); an access is checked only when no change to its region began or ended while it ran.</summary>
    [Theory]
    [InlineData(PageTableLockMode.Inline)]
    [InlineData(PageTableLockMode.Allocated)]
    [InlineData(PageTableLockMode.SingleLock)]
    public void Faults_racing_unmap_remap_and_protect_with_poisoned_frees_balance_every_counter(PageTableLockMode mode)
    {
        // Each side runs until it has done its own share (FASTPT_STRESS_CHANGES raises the mutator's for long runs):
        // every faulter checks accesses, refused accesses and writes that took a demand fault; the mutator makes
        // changes. The timeout only bounds a failure.
        int targetChanges = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_CHANGES"), out int n) ? n : 150;
        const int Regions = 8;
        const ulong RegionSize = 2 * MiB;
        using Machine machine = PageTableLockTests.Create(mode, checkedMode: true, memory: GiB);
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        var regions = new RegionState[Regions];
        for (int k = 0; k < Regions; k++)
        {
            regions[k] = new RegionState { Mapped = true, LowWritable = true, HighWritable = true };
            space.MapAnonymous(V(Base + (ulong)k * RegionSize), RegionSize, Protection.ReadWrite);
        }
        const int Faulters = 3;
        RaceCounter[] accesses = [.. Enumerable.Range(1, Faulters).Select(t => new RaceCounter($"faulter {t} accesses", 300))];
        RaceCounter[] refused = [.. Enumerable.Range(1, Faulters).Select(t => new RaceCounter($"faulter {t} refused accesses", 15))];
        RaceCounter[] faulted = [.. Enumerable.Range(1, Faulters).Select(t => new RaceCounter($"faulter {t} demand faults", 30))];
        var changes = new RaceCounter("mutator changes", targetChanges);

        void Faulter(int t, CancellationToken stop)
        {
            var random = new Random(t);
            using MmuContext cpu = space.CreateContext();
            Span<byte> buffer = stackalloc byte[8];
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(Regions);
                RegionState region = regions[k];
                long before = Volatile.Read(ref region.Version);
                if ((before & 1) != 0) continue;
                bool mapped = region.Mapped;
                ulong offset = (ulong)random.Next(512) * 4 * KiB + (ulong)t * 8;
                bool writable = offset < RegionSize / 2 ? region.LowWritable : region.HighWritable;
                VirtAddr va = V(Base + (ulong)k * RegionSize + offset);
                ulong value = ((ulong)random.Next() << 8) | (uint)t;
                long faultsBefore = cpu.Statistics.Faults;
                bool wrote = cpu.TryWrite(va, BitConverter.GetBytes(value), out PageFault writeFault);
                bool demandFault = wrote && cpu.Statistics.Faults != faultsBefore; // the write faulted, was resolved and retried
                bool read = cpu.TryRead(va, buffer, out PageFault readFault);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref region.Version) != before) continue;
                if (wrote != (mapped && writable) || read != mapped)
                    throw new InvalidOperationException($"region {k} v{before} (mapped {mapped}, writable {writable}) at {va}: write {(wrote ? "ok" : writeFault.Reason)}, read {(read ? "ok" : readFault.Reason)}");
                if (!mapped && (writeFault.Reason != FaultReason.NotMapped || readFault.Reason != FaultReason.NotMapped))
                    throw new InvalidOperationException($"region {k} unmapped: {writeFault.Reason}, {readFault.Reason}");
                if (mapped && !writable && writeFault.Reason != FaultReason.ProtectionViolation)
                    throw new InvalidOperationException($"region {k} read-only: the write gave {writeFault.Reason}");
                if (wrote && BitConverter.ToUInt64(buffer) != value)
                    throw new InvalidOperationException($"region {k} at {va}: wrote 0x{value:x}, read back 0x{BitConverter.ToUInt64(buffer):x}");
                (wrote ? accesses : refused)[t - 1].Add();
                if (demandFault) faulted[t - 1].Add();
            }
        }

        void Mutator(CancellationToken stop)
        {
            var random = new Random(99);
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(Regions);
                RegionState region = regions[k];
                VirtAddr va = V(Base + (ulong)k * RegionSize);
                Interlocked.Increment(ref region.Version);
                int choice = random.Next(4);
                if (region.Mapped && choice == 0)
                {
                    // Half the region: splits a huge page, and leaves two regions behind.
                    bool writable = !region.HighWritable;
                    space.Protect(va + RegionSize / 2, RegionSize / 2, writable ? Protection.ReadWrite : Protection.Read);
                    region.HighWritable = writable;
                }
                else if (region.Mapped && choice == 1)
                {
                    bool writable = !region.LowWritable;
                    space.Protect(va, RegionSize, writable ? Protection.ReadWrite : Protection.Read);
                    (region.LowWritable, region.HighWritable) = (writable, writable);
                }
                else if (region.Mapped)
                {
                    space.Unmap(va, RegionSize); // frees its frames and its PTE table (more when neighbours went)
                    region.Mapped = false;
                }
                else
                {
                    AnonymousOptions options = (AnonymousOptions)random.Next(3); // 4 KiB, THP or the zero page
                    space.MapAnonymous(va, RegionSize, Protection.ReadWrite, options);
                    (region.Mapped, region.LowWritable, region.HighWritable) = (true, true, true);
                }
                Interlocked.Increment(ref region.Version);
                changes.Add();
                // Let the faulters fill the region in before the next change.
                Thread.Yield();
            }
        }

        Race.Run([.. accesses, .. refused, .. faulted, changes],
            [stop => Faulter(1, stop), stop => Faulter(2, stop), stop => Faulter(3, stop), Mutator]);

        MemoryStatistics during = machine.GetStatistics();
        Assert.Equal(0, during.UseAfterFreeDetected);
        // Every resolved demand fault the faulters saw was handled (pgfault also counts spurious and refused ones).
        long demandFaults = faulted.Sum(c => c.Value);
        Assert.True(during.PageFaults >= demandFaults, $"{during.PageFaults} faults handled, {demandFaults} seen");

        space.Dispose();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(freeBefore, after.FreePages);
        Assert.Equal(0, after.UserPageTablesByLevel.Sum());
        PageTableConstructorTests.AssertLocksBalance(machine);
    }

    private sealed class RegionState
    {
        public long Version; // odd while the mutator changes the region
        public bool Mapped;
        public bool LowWritable, HighWritable;
    }
}
