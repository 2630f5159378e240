using System.Collections.Generic;
using FastPt.Tests.Paging;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>Machines with PTE fragments, shared by the fragment tests.</summary>
internal static class FragmentMachines
{
    public static Machine Create(int perBlock, PteFreeDeferScheme scheme = PteFreeDeferScheme.MarkAndDeferAtLastReference,
        bool checkedMode = true, ulong memory = 2 * GiB) =>
        new(new MachineOptions
        {
            MemorySize = memory, CheckedMode = checkedMode, PteFragmentsPerBlock = perBlock, PteFreeDeferScheme = scheme,
        });

    /// <summary>What a failed operation must also leave alone when tables are fragments.</summary>
    public static (long Blocks, long InUse, long Free, long Allocated) FragmentState(Machine machine)
    {
        MemoryStatistics s = machine.GetStatistics();
        return (s.PteBlocks, s.PteFragmentsInUse, s.PteFragmentsFree, s.PteBlocksAllocated);
    }
}

/// <summary>PTE tables handed out as fragments of page-table blocks: accounting, the cursor, the last free, and
/// refusals that change nothing.</summary>
public class FragmentAllocationTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(16)]
    public void Tables_share_blocks_and_the_last_fragment_frees_the_block(int perBlock)
    {
        using Machine machine = FragmentMachines.Create(perBlock);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(64 * MiB);
        MemoryStatistics before = machine.GetStatistics();
        for (int i = 0; i < 16; i++) space.Map(V(GiB + (ulong)i * 2 * MiB), pool + (ulong)i * 2 * MiB, Page, Protection.ReadWrite);

        MemoryStatistics mapped = machine.GetStatistics();
        Assert.Equal(16 / perBlock, mapped.PteBlocks);
        Assert.Equal(16, mapped.PteFragmentsInUse);
        Assert.Equal(0, mapped.PteFragmentsFree);
        // VmPTE still counts 4 KiB per PTE table: 16 of them, one PMD and one PUD table.
        Assert.Equal(new PageTableCounts(16, 1, 1, 0), space.PageTables);
        Assert.Equal(18 * 4, space.PageTables.VmPteKiB);
        Assert.Equal(16, mapped.UserPageTablesByLevel[1] - before.UserPageTablesByLevel[1]);
        Assert.Equal(18, mapped.PageTablePages - before.PageTablePages);
        Assert.Equal(18, before.FreePages - mapped.FreePages);

        // All but one go: a block with a live fragment stays.
        for (int i = 1; i < 16; i++) space.Unmap(V(GiB + (ulong)i * 2 * MiB), Page);
        machine.RcuBarrier();
        MemoryStatistics one = machine.GetStatistics();
        Assert.Equal(1, one.PteFragmentsInUse);
        Assert.Equal(1, one.PteBlocks);
        Assert.Equal(perBlock + 2, one.PageTablePages - before.PageTablePages);

        space.Unmap(V(GiB), Page);
        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PteBlocks);
        Assert.Equal(0, after.PteFragmentsInUse);
        Assert.Equal(after.PteBlocksAllocated, after.PteBlocksFreed);
        Assert.Equal(before.PageTablePages, after.PageTablePages);
        Assert.Equal(before.FreePages, after.FreePages);
        Assert.Equal(0, after.UseAfterFreeDetected);
    }

    [Fact]
    public void The_cursor_keeps_unused_fragments_until_the_address_space_is_torn_down()
    {
        using Machine machine = FragmentMachines.Create(16);
        PhysAddr pool = machine.AllocatePhysical(4 * MiB);
        MemoryStatistics before = machine.GetStatistics();
        AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), pool, Page, Protection.Read);
        space.Map(V(GiB + 2 * MiB), pool, Page, Protection.Read);
        MemoryStatistics mapped = machine.GetStatistics();
        Assert.Equal(1, mapped.PteBlocks);
        Assert.Equal(2, mapped.PteFragmentsInUse);
        Assert.Equal(14, mapped.PteFragmentsFree);
        space.Unmap(V(GiB), Page);
        machine.RcuBarrier();
        Assert.Equal(1, machine.GetStatistics().PteBlocks); // the cursor still holds the block

        space.Dispose();
        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PteBlocks);
        Assert.Equal(0, after.PteFragmentsFree);
        Assert.Equal(0, after.PteFragmentsInUse);
        Assert.Equal(before.FreePages, after.FreePages);
        Assert.Equal(before.PageTablePages, after.PageTablePages);
    }

    /// <summary>A map needing a PMD table and a new block (the cursor is empty) is refused at every number of free
    /// frames below what it needs, changing nothing — tables, counters, cursor and buddy allocator — and succeeds
    /// at exactly that number. The free frames are consecutive from an aligned base, so they coalesce.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(16)]
    public void A_refused_map_changes_nothing_at_every_free_frame_count_around_a_new_block(int perBlock)
    {
        using Machine machine = FragmentMachines.Create(perBlock, memory: 256 * MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr data = machine.AllocatePhysical(2 * MiB);
        space.Map(V(GiB), data, Page, Protection.Read); // the PUD table exists; fills the cursor
        for (int i = 1; i < perBlock; i++) space.Map(V(GiB + (ulong)i * 2 * MiB), data, Page, Protection.Read);
        Assert.Equal(0, machine.GetStatistics().PteFragmentsFree);

        PhysAddr window = machine.AllocatePhysical(128 * KiB); // 32 frames, aligned
        var rest = new List<PhysAddr>();
        while (machine.TryAllocatePhysical(Page, out PhysAddr pa)) rest.Add(pa);
        machine.FreePhysical(window, 128 * KiB);
        var frames = new List<PhysAddr>();
        for (int i = 0; i < 32; i++) frames.Add(machine.AllocatePhysical(Page));
        frames.Sort((a, b) => a.Value.CompareTo(b.Value));
        Assert.Equal(window, frames[0]);

        ulong target = 5 * GiB; // a GiB without a PMD table: needs one PMD table and one PTE table
        int need = 1 + perBlock;
        int freed = 0;
        for (int free = 0; free <= need; free++)
        {
            // Free frames [window, window + free) exactly.
            while (freed < free) machine.FreePhysical(frames[freed++], Page);
            Assert.Equal(free, machine.GetStatistics().FreePages);
            if (free < need)
            {
                var fragments = FragmentMachines.FragmentState(machine);
                PagingFixtures.AssertFailsAndChangesNothing(machine, space,
                    () => space.TryMap(V(target), data, Page, Protection.Read),
                    () => space.Map(V(target), data, Page, Protection.Read),
                    PagingError.OutOfFrames, target);
                Assert.Equal(fragments, FragmentMachines.FragmentState(machine));
                Assert.Equal(free, machine.GetStatistics().FreePages);
            }
            else
            {
                Assert.True(space.TryMap(V(target), data, Page, Protection.Read).IsSuccess);
                Assert.Equal(perBlock - 1, machine.GetStatistics().PteFragmentsFree);
            }
        }
        space.Unmap(V(target), Page);
        machine.RcuBarrier();
        foreach (PhysAddr pa in rest) machine.FreePhysical(pa, Page);
    }
}
