using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Map picks 1 GiB, 2 MiB and 4 KiB leaves by the alignment of both addresses and the length left, in
/// one walk, unless a size is forced.</summary>
public class MapLeafSelectionTests
{
    private const ulong Pa = 2 * GiB; // 1 GiB aligned; every frame used below is present RAM of an 8 GiB machine

    [Theory]
    [InlineData(PagingMode.FourLevel)]
    [InlineData(PagingMode.FiveLevel)]
    public void Both_addresses_gigabyte_aligned_give_gigabyte_leaves_then_smaller_ones_for_the_tail(PagingMode mode)
    {
        using Machine machine = Create(8 * GiB, mode);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), 2 * GiB + 2 * MiB + 3 * Page, Protection.ReadWrite);

        AssertRuns(space, 0, 8 * GiB,
            (GiB, 2 * GiB, Pa, PageSize.Size1G, Protection.ReadWrite),
            (3 * GiB, 2 * MiB, Pa + 2 * GiB, PageSize.Size2M, Protection.ReadWrite),
            (3 * GiB + 2 * MiB, 3 * Page, Pa + 2 * GiB + 2 * MiB, PageSize.Size4K, Protection.ReadWrite));
        Assert.Equal(2, space.LeafCount(PageSize.Size1G));
        Assert.Equal(1, space.LeafCount(PageSize.Size2M));
        Assert.Equal(3, space.LeafCount(PageSize.Size4K));
        Assert.Equal(2 * GiB + 2 * MiB + 3 * Page, space.MappedBytes);
        Mapping? leaf = space.Lookup(V(GiB + 12345));
        Assert.Equal(new Mapping(V(GiB), P(Pa), PageSize.Size1G, Protection.ReadWrite, false, false), leaf);
        Translation t = space.Translate(V(2 * GiB + 5 * MiB + 7));
        Assert.True(t.Succeeded);
        Assert.Equal(Pa + GiB + 5 * MiB + 7, t.PhysAddr.Value);
        Assert.Equal(PageSize.Size1G, t.PageSize);
        Assert.Equal(PageSize.Size4K, space.Translate(V(3 * GiB + 2 * MiB + 2 * Page + 1)).PageSize);
        // One PUD table (the root's first entry), one PMD table (under 3 GiB), one PTE table.
        Assert.Equal(new PageTableCounts(1, 1, 1, mode == PagingMode.FiveLevel ? 1 : 0), space.PageTables);
    }

    [Fact]
    public void Virtual_address_aligned_but_physical_not_gives_only_small_leaves()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa + Page), 4 * MiB, Protection.Read);
        AssertRuns(space, 0, 4 * GiB, (GiB, 4 * MiB, Pa + Page, PageSize.Size4K, Protection.Read));
        Assert.Equal(1024, space.LeafCount(PageSize.Size4K));
        Assert.Equal(0, space.LeafCount(PageSize.Size2M));
        Assert.Equal(0, space.LeafCount(PageSize.Size1G));
        Assert.Equal(new PageTableCounts(2, 1, 1, 0), space.PageTables);
    }

    [Fact]
    public void Physical_address_aligned_but_virtual_not_gives_only_small_leaves()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB + 2 * MiB + Page), P(Pa), 2 * GiB, Protection.Read);
        Assert.Equal(0, space.LeafCount(PageSize.Size1G));
        Assert.Equal(0, space.LeafCount(PageSize.Size2M));
        Assert.Equal((long)(2 * GiB / Page), space.LeafCount(PageSize.Size4K));
        Assert.Equal(Pa + 5 * Page + 3, space.Translate(V(GiB + 2 * MiB + 6 * Page + 3)).PhysAddr.Value);
        AssertTablesMatchLeaves(machine, space);
    }

    [Fact]
    public void Addresses_aligned_to_two_megabytes_only_give_two_megabyte_leaves_across_a_gigabyte()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa + 2 * MiB), GiB, Protection.ReadExecute);
        AssertRuns(space, 0, 4 * GiB, (GiB, GiB, Pa + 2 * MiB, PageSize.Size2M, Protection.ReadExecute));
        Assert.Equal(512, space.LeafCount(PageSize.Size2M));
        Assert.Equal(new PageTableCounts(0, 1, 1, 0), space.PageTables);
    }

    [Fact]
    public void A_range_starting_a_page_before_a_two_megabyte_boundary_gives_small_then_large_then_small_leaves()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong va = 2 * GiB - Page; // also 4 KiB before a 1 GiB boundary
        ulong pa = Pa + 4 * MiB - Page;
        space.Map(V(va), P(pa), Page + 4 * MiB + 2 * Page, Protection.ReadWrite);
        AssertRuns(space, 0, 4 * GiB,
            (va, Page, pa, PageSize.Size4K, Protection.ReadWrite),
            (2 * GiB, 4 * MiB, Pa + 4 * MiB, PageSize.Size2M, Protection.ReadWrite),
            (2 * GiB + 4 * MiB, 2 * Page, Pa + 8 * MiB, PageSize.Size4K, Protection.ReadWrite));
        // The range straddles a 1 GiB boundary: two PMD tables, two PTE tables, one PUD table.
        Assert.Equal(new PageTableCounts(2, 2, 1, 0), space.PageTables);
    }

    [Fact]
    public void A_gigabyte_less_one_page_gives_two_megabyte_leaves_and_small_ones_for_the_last_block()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), GiB - Page, Protection.ReadWrite);
        Assert.Equal(0, space.LeafCount(PageSize.Size1G));
        Assert.Equal(511, space.LeafCount(PageSize.Size2M));
        Assert.Equal(511, space.LeafCount(PageSize.Size4K));
        Assert.Null(space.Lookup(V(2 * GiB - Page)));
        Assert.Equal(new PageTableCounts(1, 1, 1, 0), space.PageTables);
    }

    [Fact]
    public void Forced_sizes_use_only_that_size()
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        AssertRuns(space, GiB, GiB, (GiB, 2 * MiB, Pa, PageSize.Size4K, Protection.ReadWrite));
        space.Map(V(4 * GiB), P(Pa), GiB, Protection.ReadWrite, PageSize.Size2M);
        AssertRuns(space, 4 * GiB, GiB, (4 * GiB, GiB, Pa, PageSize.Size2M, Protection.ReadWrite));
        space.Map(V(8 * GiB), P(Pa), 2 * GiB, Protection.ReadWrite, PageSize.Size1G);
        AssertRuns(space, 8 * GiB, 2 * GiB, (8 * GiB, 2 * GiB, Pa, PageSize.Size1G, Protection.ReadWrite));
        Assert.Equal(512, space.LeafCount(PageSize.Size4K));
        Assert.Equal(512, space.LeafCount(PageSize.Size2M));
        Assert.Equal(2, space.LeafCount(PageSize.Size1G));
        AssertTablesMatchLeaves(machine, space);
    }

    [Fact]
    public void Without_gigabyte_pages_aligned_ranges_get_two_megabyte_leaves_and_forcing_one_gigabyte_is_refused()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 8 * GiB, GigabytePages = false, CheckedMode = true });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), GiB, Protection.Read);
        Assert.Equal(0, space.LeafCount(PageSize.Size1G));
        Assert.Equal(512, space.LeafCount(PageSize.Size2M));
        AssertFailsAndChangesNothing(machine, space,
            () => space.TryMap(V(4 * GiB), P(Pa), GiB, Protection.Read, PageSize.Size1G),
            () => space.Map(V(4 * GiB), P(Pa), GiB, Protection.Read, PageSize.Size1G),
            PagingError.InvalidArgument, 4 * GiB);
    }

    [Theory]
    [InlineData(Protection.Read, Protection.Read)]
    [InlineData(Protection.Write, Protection.ReadWrite)]
    [InlineData(Protection.Execute, Protection.ReadExecute)]
    [InlineData(Protection.Write | Protection.Execute, Protection.All)]
    [InlineData(Protection.None, Protection.None)]
    public void Write_and_execute_imply_read_at_every_leaf_size(Protection asked, Protection granted)
    {
        using Machine machine = Create(8 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(GiB), P(Pa), GiB + 2 * MiB + Page, asked);
        foreach ((ulong va, PageSize size) in new[] { (GiB + Page, PageSize.Size1G), (2 * GiB + 5, PageSize.Size2M), (2 * GiB + 2 * MiB + 9, PageSize.Size4K) })
        {
            Mapping leaf = space.Lookup(V(va)) ?? throw new Xunit.Sdk.XunitException($"0x{va:x} not mapped");
            Assert.Equal(size, leaf.Size);
            Assert.Equal(granted, leaf.Protection);
            foreach (AccessKind access in new[] { AccessKind.Read, AccessKind.Write, AccessKind.Execute })
            {
                bool allowed = access switch
                {
                    AccessKind.Read => (granted & Protection.Read) != 0,
                    AccessKind.Write => (granted & Protection.Write) != 0,
                    _ => (granted & Protection.Execute) != 0,
                };
                Translation t = space.Translate(V(va), access);
                Assert.True(allowed == t.Succeeded, $"{access} at 0x{va:x} with {granted}: {t}");
                if (allowed)
                {
                    Assert.Equal(Pa + (va - GiB), t.PhysAddr.Value);
                    Assert.Equal(size, t.PageSize);
                    Assert.Equal(granted, t.Protection);
                }
                else
                {
                    Assert.Equal(new PageFault(V(va), access, FaultReason.ProtectionViolation), t.Fault);
                }
            }
        }
        // PROT_NONE pages are mapped: they count, and mapping over them is refused.
        Assert.Equal(GiB + 2 * MiB + Page, space.MappedBytes);
        AssertFailed(space.TryMap(V(2 * GiB + 2 * MiB), P(Pa), Page, Protection.Read), PagingError.AlreadyMapped, 2 * GiB + 2 * MiB);
    }

    [Fact]
    public void Five_level_paging_maps_above_the_four_level_limit_with_p4d_tables()
    {
        using Machine machine = Create(8 * GiB, PagingMode.FiveLevel);
        using AddressSpace space = machine.CreateAddressSpace();
        Assert.Equal(1UL << 56, space.UserTop.Value);
        ulong high = (1UL << 48) * 3 + GiB; // in the fourth P4D region
        space.Map(V(high - 2 * MiB), P(Pa - 2 * MiB), GiB + 2 * MiB + Page, Protection.ReadWrite);
        AssertRuns(space, high - GiB, 3 * GiB,
            (high - 2 * MiB, 2 * MiB, Pa - 2 * MiB, PageSize.Size2M, Protection.ReadWrite),
            (high, GiB, Pa, PageSize.Size1G, Protection.ReadWrite),
            (high + GiB, Page, Pa + GiB, PageSize.Size4K, Protection.ReadWrite));
        Assert.Equal(new PageTableCounts(1, 2, 1, 1), space.PageTables);
        Assert.Equal(16, space.PageTables.VmPteKiB); // the P4D table is not part of VmPTE
        Assert.Equal(Pa + 77, space.Translate(V(high + 77)).PhysAddr.Value);
    }
}
