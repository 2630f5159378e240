using System;
using System.Collections.Generic;
using System.Threading;
using FastPt.Sync;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>Empty-table reclaim on unmap through the gather's RCU table free (<c>tlb_remove_table</c>): tables
/// go into batch pages freed after a grace period, and when no batch page can be allocated they are freed behind
/// <c>tlb_remove_table_sync_one</c>.</summary>
public class RcuTableFreeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public void Tables_emptied_by_an_unmap_wait_for_a_lockless_walker_without_the_unmap_waiting(int perBlock)
    {
        using Machine machine = FragmentMachines.Create(perBlock);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr data = machine.AllocatePhysical(2 * MiB);
        for (int i = 0; i < 4; i++) space.Map(V(8 * GiB + (ulong)i * 2 * MiB), data, Page, Protection.Read);
        MemoryStatistics mapped = machine.GetStatistics();
        using RcuReader walker = machine.Memory.Rcu.RegisterReader();
        walker.Enter(); // a lockless walker that may hold any of the tables

        UnmapAll(space, 4); // returns at once: 4 PTE tables, a PMD table and a PUD table go to RCU
        MemoryStatistics queued = machine.GetStatistics();
        Assert.Equal(0, space.PageTables.Total);
        Assert.Equal(mapped.TableBatchesQueued + 1, queued.TableBatchesQueued);
        Assert.Equal(6 * 4096, queued.RcuPendingTableBytes);
        Assert.Equal(mapped.PageTablePages, queued.PageTablePages); // nothing freed yet
        Assert.Equal(0, queued.TableSyncFrees);
        for (int i = 0; i < 3; i++) machine.Memory.Rcu.Poll();
        Assert.Equal(mapped.PageTablePages, machine.GetStatistics().PageTablePages);

        walker.Exit();
        machine.RcuBarrier();
        MemoryStatistics freed = machine.GetStatistics();
        Assert.Equal(0, freed.RcuPendingTableBytes);
        Assert.Equal(mapped.PageTablePages - 2 - (perBlock == 1 ? 4 : 0), freed.PageTablePages); // a 16-block stays in the cursor
        Assert.Equal(0, freed.UseAfterFreeDetected);
    }

    /// <summary>With every frame allocated the gather gets no batch page: the tables are freed right after the
    /// flush, behind a synchronous grace period that waits for a walker parked in its section.</summary>
    [Fact]
    public void Without_a_frame_for_the_batch_the_gather_frees_behind_a_synchronous_grace_period()
    {
        using Machine machine = FragmentMachines.Create(1, memory: 256 * MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr data = machine.AllocatePhysical(2 * MiB);
        for (int i = 0; i < 3; i++) space.Map(V(8 * GiB + (ulong)i * 2 * MiB), data, Page, Protection.Read);
        var all = new List<PhysAddr>();
        while (machine.TryAllocatePhysical(Page, out PhysAddr pa)) all.Add(pa); // GFP_NOWAIT will fail
        Assert.Equal(0, machine.GetStatistics().FreePages);

        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var walker = new Thread(() =>
        {
            using RcuReader reader = machine.Memory.Rcu.RegisterReader();
            reader.Enter();
            inside.Set();
            leave.Wait();
            reader.Exit();
        });
        walker.IsBackground = true;
        walker.Start();
        try
        {
            Fallback(machine, space, inside, leave, walker);
        }
        finally
        {
            leave.Set();
        }
        foreach (PhysAddr pa in all) machine.FreePhysical(pa, Page);
    }

    private static void Fallback(Machine machine, AddressSpace space, ManualResetEventSlim inside, ManualResetEventSlim leave, Thread walker)
    {
        Assert.True(inside.Wait(Bound, TestContext.Current.CancellationToken));
        long epoch = machine.Memory.Rcu.Epoch;
        Exception? failure = null;
        var unmapper = new Thread(() =>
        {
            try { UnmapAll(space, 3); }
            catch (Exception e) { failure = e; }
        });
        unmapper.IsBackground = true;
        unmapper.Start();
        // Once the grace period started, the unmap waits for the walker: it cannot have freed anything.
        SpinWait.SpinUntil(() => machine.Memory.Rcu.Epoch > epoch, Bound);
        Assert.True(unmapper.IsAlive);
        Assert.Equal(0, machine.GetStatistics().FreePages);
        leave.Set();
        Assert.True(unmapper.Join(Bound));
        Assert.True(walker.Join(Bound));
        Assert.Null(failure);

        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(5, after.TableSyncFrees); // 3 PTE tables, the PMD table and the PUD table
        Assert.Equal(0, after.TableBatchesQueued);
        Assert.Equal(5, after.FreePages); // freed at once, no RCU callback left
        Assert.Equal(0, after.RcuPendingCallbacks);
        Assert.Equal(0, after.UseAfterFreeDetected);
    }

    /// <summary>Unmaps the first page of each of <paramref name="regions"/> 2 MiB regions in one gather.</summary>
    private static void UnmapAll(AddressSpace space, int regions)
    {
        using MmuGather gather = space.BeginGather();
        for (int i = 0; i < regions; i++) space.Unmap(V(8 * GiB + (ulong)i * 2 * MiB), Page, gather);
    }
}
