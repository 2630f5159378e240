using System;
using System.Diagnostics;
using System.Threading;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>A map is visible the moment it returns, even beside a table an open gather still holds: the unmap
/// cleared and queued the old table, the map installed a fresh one in the same entry, and a context whose
/// paging-structure caches still point at the queued table must not walk it (Linux never meets this because
/// <c>munmap</c> finishes its gather under <c>mmap_lock</c>; FastPt locks per call).</summary>
public class GatherVisibilityTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Theory]
    [InlineData(1 * MiB)]        // the same 2 MiB region: the PTE table was queued (the PMD cache held it)
    [InlineData(4 * MiB)]        // the same 1 GiB region: the PMD table was queued too (the PUD cache held it)
    public void A_map_beside_a_table_an_open_gather_holds_translates_at_once(ulong distance)
    {
        using Machine machine = Create(1 * GiB);
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(2 * MiB);
        VirtAddr b = Base, a = Base + distance;
        space.Map(b, frames, Page, Protection.ReadWrite);
        Assert.True(space.TryTranslate(b, AccessKind.Read, out _)); // warms the paging-structure caches
        using (MmuGather gather = space.BeginGather())
        {
            space.Unmap(b, Page, gather);
            Assert.True(gather.PendingTables > 0);
            space.Map(a, frames + Page, Page, Protection.ReadWrite);
            Assert.True(space.TryTranslate(a, AccessKind.Read, out PhysAddr pa), $"the map at {a} is hidden by the open gather");
            Assert.Equal(frames + Page, pa);
            space.Write(a, 0x5a5aUL);
            Assert.Equal(0x5a5aUL, space.Read<ulong>(a));
        }
        Assert.True(space.TryTranslate(a, AccessKind.Read, out _));
        Assert.False(space.TryTranslate(b, AccessKind.Read, out _));
        space.Dispose();
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
    }

    /// <summary>Three mutators own interleaved 1 MiB slots (so two mutators share each PTE table and all share the
    /// PMD tables); half of their batches run inside a gather. After every map the mutator must translate and
    /// write its slot at once, whatever gather another mutator (or itself) holds open. Checked mode poisons every
    /// freed table and frame; at the end every frame and table must be back.</summary>
    [Fact]
    public void Mutators_sharing_tables_with_open_gathers_always_see_their_maps()
    {
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s : 0;
        const int Mutators = 3, SlotsPerMutator = 8;
        const ulong SlotSize = 1 * MiB;
        using Machine machine = Create(1 * GiB, checkedMode: true);
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(64 * MiB);
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        long maps = 0, mapsInsideGathers = 0, unmapsInsideGathers = 0;

        void Mutator(int id)
        {
            var random = new Random(id);
            var mapped = new ulong[SlotsPerMutator]; // frame + 1 while mapped
            using MmuContext cpu = space.CreateContext();
            VirtAddr SlotVa(int k) => Base + (ulong)(k * Mutators + id) * SlotSize;
            void Change(int k, MmuGather? gather)
            {
                VirtAddr va = SlotVa(k);
                if (mapped[k] != 0)
                {
                    space.Unmap(va, SlotSize, gather);
                    mapped[k] = 0;
                    if (gather is not null) Interlocked.Increment(ref unmapsInsideGathers);
                    return;
                }
                ulong frame = pool.Value + (ulong)random.Next(64) * SlotSize;
                space.Map(va, P(frame), SlotSize, Protection.ReadWrite);
                mapped[k] = frame + 1;
                ulong offset = (ulong)random.Next(256) * Page;
                if (!cpu.TryTranslate(va + offset, AccessKind.Write, out PhysAddr pa))
                    throw new InvalidOperationException($"mutator {id}: {va + offset} faulted right after its map{(gather is null ? "" : " (own gather open)")}");
                if (pa.Value != frame + offset)
                    throw new InvalidOperationException($"mutator {id}: {va + offset} -> {pa}, expected 0x{frame + offset:x}");
                if (!cpu.TryWrite(va + offset, BitConverter.GetBytes((ulong)id), out PageFault fault))
                    throw new InvalidOperationException($"mutator {id}: the write after the map faulted: {fault}");
                Interlocked.Increment(ref maps);
                if (gather is not null) Interlocked.Increment(ref mapsInsideGathers);
            }
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (random.Next(2) == 0)
                    {
                        using MmuGather gather = space.BeginGather();
                        for (int i = 0; i < 4; i++) Change(random.Next(SlotsPerMutator), gather);
                    }
                    else
                    {
                        for (int i = 0; i < 4; i++) Change(random.Next(SlotsPerMutator), null);
                    }
                }
                for (int k = 0; k < SlotsPerMutator; k++)
                    if (mapped[k] != 0) space.Unmap(SlotVa(k), SlotSize);
            }
            catch (Exception e)
            {
                failure ??= e;
                stop.Cancel();
            }
        }

        var threads = new Thread[Mutators];
        for (int i = 0; i < Mutators; i++)
        {
            int id = i;
            threads[i] = new Thread(() => Mutator(id));
            threads[i].Start();
        }
        var watch = Stopwatch.StartNew();
        bool Enough() => Interlocked.Read(ref maps) > 3000 && Interlocked.Read(ref mapsInsideGathers) > 500
            && Interlocked.Read(ref unmapsInsideGathers) > 500;
        while (!stop.IsCancellationRequested && (!Enough() || watch.Elapsed < TimeSpan.FromSeconds(seconds)) && watch.Elapsed < TimeSpan.FromSeconds(seconds + 120))
            Thread.Sleep(1);
        stop.Cancel();
        foreach (Thread t in threads) t.Join();

        Assert.Null(failure);
        Assert.True(Enough(), $"only {maps} maps ({mapsInsideGathers} inside gathers) and {unmapsInsideGathers} gathered unmaps in {watch.Elapsed}");
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
        Assert.Equal(0UL, space.MappedBytes);
        space.Dispose();
        machine.FreePhysical(pool, 64 * MiB);
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(freeBefore, after.FreePages);
        Assert.Equal(0, after.UserPageTablesByLevel[1] + after.UserPageTablesByLevel[2] + after.UserPageTablesByLevel[3] + after.UserPageTablesByLevel[4]);
    }
}
