using System;
using System.Threading;
using FastPt.Faults;
using FastPt.Mm;
using FastPt.Sync;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>Both <c>pte_free_defer</c> refcount schemes with the 16 fragments of one block: deferred concurrently,
/// each block is freed exactly once, after a grace period, and never while one of its fragments is a live table.</summary>
public class PteFreeDeferTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>16 PTE tables of one block (one page mapped in each of 16 regions), all detached from their PMDs
    /// as khugepaged's retract does, ready to be deferred.</summary>
    private static (Machine Machine, AddressSpace Space, ulong[] Tables, ulong[] Regions) SixteenDetached(PteFreeDeferScheme scheme, int detach = 16)
    {
        Machine machine = FragmentMachines.Create(16, scheme);
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr data = machine.AllocatePhysical(2 * MiB);
        var regions = new ulong[16];
        for (int i = 0; i < 16; i++)
        {
            regions[i] = GiB + (ulong)i * 2 * MiB;
            space.Map(V(regions[i]), data, Page, Protection.ReadWrite);
        }
        Assert.Equal(1, machine.GetStatistics().PteBlocks);
        var tables = new ulong[detach];
        for (int i = 0; i < detach; i++) Assert.True(Collapse.Retract(space.Mm, regions[i], out tables[i]).IsSuccess);
        return (machine, space, tables, regions);
    }

    private static void DeferConcurrently(Machine machine, AddressSpace space, ulong[] tables, ulong[] regions)
    {
        using var start = new Barrier(tables.Length);
        var threads = new Thread[tables.Length];
        Exception? failure = null;
        for (int i = 0; i < tables.Length; i++)
        {
            int t = i;
            threads[i] = new Thread(() =>
            {
                try
                {
                    start.SignalAndWait(Bound);
                    machine.Memory.Fragments.FreeDefer(space.Mm, tables[t], regions[t]);
                }
                catch (Exception e)
                {
                    failure ??= e;
                }
            });
            threads[i].Start();
        }
        foreach (Thread t in threads) Assert.True(t.Join(Bound));
        Assert.Null(failure);
    }

    [Theory]
    [InlineData(PteFreeDeferScheme.DeferredRefcount)]
    [InlineData(PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    public void Sixteen_concurrent_deferrals_of_one_block_free_it_once_after_a_grace_period(PteFreeDeferScheme scheme)
    {
        (Machine machine, AddressSpace space, ulong[] tables, ulong[] regions) = SixteenDetached(scheme);
        using Machine owner = machine;
        RcuDomain rcu = machine.Memory.Rcu;
        using RcuReader reader = rcu.RegisterReader();
        // A walker inside a section from before the deferrals: none of them may free the block before it leaves.
        reader.Enter();
        DeferConcurrently(machine, space, tables, regions);
        for (int i = 0; i < 3; i++) rcu.Poll();
        MemoryStatistics held = machine.GetStatistics();
        Assert.Equal(16, held.TablesDeferred);
        Assert.Equal(1, held.PteBlocks);
        Assert.Equal(0, held.PteBlocksFreed);
        Assert.Equal(1, held.DeferredHeadsQueued); // 16 deferrals, one shared head queued once
        Assert.Equal(16 * 4096, held.RcuPendingTableBytes);
        reader.Exit();

        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PteBlocks);
        Assert.Equal(1, after.PteBlocksFreed);
        Assert.Equal(1, after.DeferredBlocksFreed);
        Assert.Equal(0, after.RcuPendingTableBytes);
        Assert.Equal(0, after.PteFragmentsInUse);
        if (scheme == PteFreeDeferScheme.DeferredRefcount)
        {
            // 15 deferrals came in while the first waited: folded into one re-deferral, one more grace period.
            Assert.Equal(1, after.Redeferrals);
            Assert.Equal(2, after.DeferredHeadsQueued);
        }
        else
        {
            // The merged scheme queues the head once, at the last reference: it has no re-deferral.
            Assert.Equal(0, after.Redeferrals);
            Assert.Equal(1, after.DeferredHeadsQueued);
        }
        Assert.Equal(0, after.UseAfterFreeDetected);
        space.Dispose();
    }

    [Theory]
    [InlineData(PteFreeDeferScheme.DeferredRefcount)]
    [InlineData(PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    public void A_block_is_not_freed_while_one_of_its_fragments_is_a_live_table(PteFreeDeferScheme scheme)
    {
        (Machine machine, AddressSpace space, ulong[] tables, ulong[] regions) = SixteenDetached(scheme, detach: 15);
        using Machine owner = machine;
        MemoryStatistics before = machine.GetStatistics();
        DeferConcurrently(machine, space, tables, regions[..15]);
        machine.RcuBarrier();
        MemoryStatistics held = machine.GetStatistics();
        Assert.Equal(1, held.PteBlocks);
        Assert.Equal(1, held.PteFragmentsInUse);
        Assert.Equal(0, held.PteBlocksFreed);
        Assert.True(space.Translate(V(regions[15])).Succeeded); // the live table still translates

        space.Unmap(V(regions[15]), Page); // the last reference goes through the gather
        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PteBlocks);
        Assert.Equal(1, after.PteBlocksFreed);
        Assert.Equal(before.PageTablePages - 16 - 2, after.PageTablePages); // the block, and the PMD and PUD tables it emptied
        space.Dispose();
    }

    [Fact]
    public void Deferring_a_table_still_linked_in_its_pmd_is_a_clear_error()
    {
        using Machine machine = FragmentMachines.Create(16);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), machine.AllocatePhysical(Page), Page, Protection.Read);
        ulong tablePa = PteTableOf(space, GiB);
        var error = Assert.Throws<InvalidOperationException>(() => machine.Memory.Fragments.FreeDefer(space.Mm, tablePa, GiB));
        Assert.Contains("still linked", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, machine.GetStatistics().TablesDeferred);
        Assert.True(space.Translate(V(GiB)).Succeeded);
    }

    [Fact]
    public void Freeing_or_deferring_a_fragment_twice_is_a_clear_error()
    {
        (Machine machine, AddressSpace space, ulong[] tables, ulong[] regions) = SixteenDetached(PteFreeDeferScheme.MarkAndDeferAtLastReference, detach: 2);
        using Machine owner = machine;
        PteFragments fragments = machine.Memory.Fragments;
        fragments.FreeDefer(space.Mm, tables[0], regions[0]);
        var deferTwice = Assert.Throws<InvalidOperationException>(() => fragments.FreeDefer(space.Mm, tables[0], regions[0]));
        Assert.Contains("freed twice", deferTwice.Message, StringComparison.Ordinal);
        fragments.Free(tables[1] >> 12);
        var freeTwice = Assert.Throws<InvalidOperationException>(() => fragments.Free(tables[1] >> 12));
        Assert.Contains("freed twice", freeTwice.Message, StringComparison.Ordinal);
        machine.RcuBarrier();
        Assert.Equal(14, machine.GetStatistics().PteFragmentsInUse); // the refused calls counted nothing
        space.Dispose();
    }

    /// <summary>The PTE table the PMD of <paramref name="va"/> points to.</summary>
    internal static unsafe ulong PteTableOf(AddressSpace space, ulong va)
    {
        var physical = space.Mm.Memory.Physical;
        ulong table = space.Mm.RootPa;
        for (int level = space.Mm.RootLevel; level > 1; level--)
            table = physical.TableForRead(table)[FastPt.Geometry.Paging.Index(level, va)] & 0x000F_FFFF_FFFF_F000;
        return table;
    }
}
