using System;
using System.Collections.Generic;
using FastPt.Tests.Paging;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary>Table constructors and destructors on every path: a constructor that fails (injected, or for want of
/// memory for an allocated lock) leaves everything as it was, and every free path — the gather's included, where
/// Linux once leaked PMD locks — runs the destructor, so the lock counters balance.</summary>
public class PageTableConstructorTests
{
    private const ulong Base = 1UL << 39;

    /// <summary>Everything a failed operation must leave alone, locks included.</summary>
    private sealed record State(TableSnapshot Tables, long Ptlocks, long SlabPages, long FreePages);

    private static State Take(Machine machine, AddressSpace space)
    {
        MemoryStatistics s = machine.GetStatistics();
        return new State(TableSnapshot.Take(machine, space), s.PtlocksOutstanding, s.PtlockSlabPages, s.FreePages);
    }

    /// <summary>The check every scenario ends with: no lock outstanding, no slab page left.</summary>
    internal static void AssertLocksBalance(Machine machine)
    {
        MemoryStatistics s = machine.GetStatistics();
        Assert.True(s.PtlocksAllocated == s.PtlocksFreed, $"ptlocks allocated {s.PtlocksAllocated}, freed {s.PtlocksFreed}");
        Assert.True(s.PtlockSlabPages == 0, $"{s.PtlockSlabPages} slab pages of page-table locks left");
    }

    public static IEnumerable<object[]> Modes() =>
        [[PageTableLockMode.Inline], [PageTableLockMode.Allocated], [PageTableLockMode.SingleLock]];

    [Theory]
    [MemberData(nameof(Modes))]
    public void A_failing_constructor_at_any_table_of_a_map_changes_nothing(PageTableLockMode mode)
    {
        using Machine machine = PageTableLockTests.Create(mode, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), 4 * KiB, Protection.Read, PageSize.Size4K);
        // 8 MiB across a gigabyte boundary: one PTE table in the first gigabyte, a PMD table and three PTE tables
        // in the second. Every one of the five constructors fails in turn.
        ulong va = Base + GiB - 2 * MiB, length = 8 * MiB;
        for (int succeed = 0; ; succeed++)
        {
            State before = Take(machine, space);
            machine.Memory.PageTables.InjectConstructorFailures(succeed);
            PagingResult result = space.TryMap(V(va), P(GiB), length, Protection.ReadWrite, PageSize.Size4K);
            machine.Memory.PageTables.InjectConstructorFailures(-1, 0);
            if (result.IsSuccess)
            {
                // 4 PTE tables + 1 PMD table for the second gigabyte: every constructor got its turn to fail.
                Assert.Equal(5, succeed);
                break;
            }
            Assert.Equal(PagingError.OutOfFrames, result.Error);
            Assert.Contains("constructor", result.Detail);
            Assert.Equal(before, Take(machine, space));
        }
        space.Unmap(V(va), length);
        space.Unmap(V(Base), 4 * KiB);
        space.Dispose();
        AssertLocksBalance(machine);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void A_failing_constructor_of_a_split_table_leaves_the_huge_page_whole(PageTableLockMode mode)
    {
        using Machine machine = PageTableLockTests.Create(mode, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), GiB, Protection.ReadWrite, PageSize.Size1G);
        State before = Take(machine, space);
        // Unmapping one 4 KiB page needs a PMD table (1 GiB -> 2 MiB) and a PTE table (2 MiB -> 4 KiB).
        for (int succeed = 0; succeed < 2; succeed++)
        {
            machine.Memory.PageTables.InjectConstructorFailures(succeed);
            PagingResult unmap = space.TryUnmap(V(Base + 6 * MiB), 4 * KiB);
            machine.Memory.PageTables.InjectConstructorFailures(succeed);
            PagingResult protect = space.TryProtect(V(Base + 6 * MiB), 4 * KiB, Protection.Read);
            machine.Memory.PageTables.InjectConstructorFailures(-1, 0);
            Assert.Equal(PagingError.OutOfFrames, unmap.Error);
            Assert.Equal(PagingError.OutOfFrames, protect.Error);
            Assert.Equal(before, Take(machine, space));
        }
        space.Unmap(V(Base + 6 * MiB), 4 * KiB);
        Assert.Equal(1, space.PageTables.Pte);
        space.Dispose();
        AssertLocksBalance(machine);
    }

    [Fact]
    public void Allocated_mode_under_exhaustion_fails_cleanly_at_every_free_frame_count()
    {
        using Machine machine = PageTableLockTests.Create(PageTableLockMode.Allocated, checkedMode: true, memory: 512 * MiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(0), GiB, Protection.Read, PageSize.Size1G); // a PUD table, which takes no split lock
        // 4 MiB in the next gigabyte needs a PMD and two PTE tables, and their locks a slab page: 4 frames. With 3
        // the tables are there but the first constructor cannot allocate its lock.
        var hog = new List<PhysAddr>();
        while (machine.TryAllocatePhysical(4 * KiB, out PhysAddr frame)) hog.Add(frame);
        int free = 0;
        bool mapped = false;
        while (!mapped)
        {
            State before = Take(machine, space);
            PagingResult result = space.TryMap(V(Base + GiB), P(0), 4 * MiB, Protection.Read, PageSize.Size4K);
            if (result.IsSuccess)
            {
                Assert.Equal(4, free);
                mapped = true;
                break;
            }
            Assert.Equal(PagingError.OutOfFrames, result.Error);
            if (free == 3) Assert.Contains("constructor", result.Detail);
            Assert.Equal(before, Take(machine, space));
            machine.FreePhysical(hog[^1], 4 * KiB);
            hog.RemoveAt(hog.Count - 1);
            free++;
        }
        Assert.Equal(1, machine.GetStatistics().PtlockSlabPages);
        foreach (PhysAddr frame in hog) machine.FreePhysical(frame, 4 * KiB);
        space.Dispose();
        AssertLocksBalance(machine);
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Every_free_path_runs_the_destructor(PageTableLockMode mode)
    {
        using Machine machine = PageTableLockTests.Create(mode, checkedMode: true);
        AddressSpace space = machine.CreateAddressSpace();
        // Direct frees through the gather: unmap of whole tables, of emptied tables, of split tables.
        space.Map(V(Base), P(GiB), GiB, Protection.ReadWrite, PageSize.Size4K);
        space.Map(V(Base + GiB), P(GiB), GiB, Protection.ReadWrite, PageSize.Size1G);
        space.Protect(V(Base + GiB + 4 * KiB), 4 * KiB, Protection.Read); // splits 1 GiB -> 2 MiB -> 4 KiB
        space.Unmap(V(Base + 4 * KiB), GiB - 8 * KiB);                     // empties tables one by one
        using (MmuGather gather = space.BeginGather())
        {
            space.Unmap(V(Base), 4 * KiB, gather);
            space.Unmap(V(Base + GiB - 4 * KiB), 4 * KiB, gather);
        }
        space.Unmap(V(Base + GiB), 8 * KiB);
        Assert.True(machine.GetStatistics().PtlocksFreed > 0 || mode == PageTableLockMode.SingleLock);
        // Teardown frees the rest.
        space.Dispose();
        AssertLocksBalance(machine);
        Assert.Equal(0, machine.GetStatistics().UserPageTablesByLevel[1]);
    }

    [Fact]
    public void The_seeds_pmd_free_tlb_leak_reproduced_on_purpose_is_caught()
    {
        // The bug of seed 004: pmd_free_tlb freed PMD tables without pgtable_pmd_page_dtor, leaking their
        // allocated ptl. The same check that passes on the real path must fail on the buggy one.
        foreach (bool buggy in new[] { false, true })
        {
            using Machine machine = PageTableLockTests.Create(PageTableLockMode.Allocated);
            machine.Memory.PageTables.SkipPmdDestructorOnGather = buggy;
            using (AddressSpace space = machine.CreateAddressSpace())
            {
                space.Map(V(Base), P(GiB), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
                space.Unmap(V(Base), 4 * MiB); // PTE, PMD and PUD tables go through the gather
            }
            if (buggy)
            {
                Exception? caught = Record.Exception(() => AssertLocksBalance(machine));
                Assert.NotNull(caught);
                Assert.Equal(1, machine.GetStatistics().PtlocksOutstanding); // the PMD table's lock
            }
            else
            {
                AssertLocksBalance(machine);
            }
        }
    }
}
