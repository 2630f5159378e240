using FastPt.Hardware;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;
using PageGeometry = FastPt.Geometry.Paging;

namespace FastPt.Tests.Paging;

/// <summary>A protection change rewrites the rights of a leaf and nothing else (the kernel's <c>pgprot_modify</c>
/// keeps <c>_PAGE_CHG_MASK</c>): caching attributes, the global bit and software bits survive.</summary>
public unsafe class ProtectionAttributeTests
{
    private const ulong Rights = PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.User | PageTableEntry.NoExecute;

    /// <summary>PWT, PCD, PAT of the level, A, D, the three software bits 9–11 and software bits 52–58.</summary>
    private static ulong Attributes(int level) =>
        PageTableEntry.WriteThrough | PageTableEntry.CacheDisable | PageTableEntry.Accessed | PageTableEntry.Dirty
        | (level == 1 ? PageTableEntry.Huge : PageTableEntry.HugePat) | (7UL << 9) | (0x7FUL << 52);

    public static TheoryData<int, Protection, Protection> Changes()
    {
        var data = new TheoryData<int, Protection, Protection>();
        for (int level = 1; level <= 3; level++)
            foreach (Protection from in PagingFixtures.Protections)
                foreach (Protection to in PagingFixtures.Protections)
                    data.Add(level, PagingFixtures.Normalized(from), PagingFixtures.Normalized(to));
        return data;
    }

    [Theory]
    [MemberData(nameof(Changes))]
    public void Every_bit_but_the_rights_is_kept(int level, Protection from, Protection to)
    {
        ulong frame = 0x1_4000_0000UL; // aligned for every level
        ulong global = from == Protection.None ? 0 : PageTableEntry.Global;
        ulong entry = frame | PageTableEntry.UserLeafBits(from, level) | Attributes(level) | global;

        ulong after = PageTableEntry.WithProtection(entry, to, level);

        Assert.Equal(to, PageTableEntry.ProtectionOf(after));
        Assert.Equal(frame, PageTableEntry.LeafAddress(after, level));
        Assert.Equal(PageTableEntry.UserLeafBits(to, level), after & (Rights | (level > 1 ? PageTableEntry.Huge : 0) | (to == Protection.None ? PageTableEntry.ProtNone : 0)));
        Assert.Equal(Attributes(level), after & Attributes(level));
        // Bit 8 is G on a present leaf and the PROT_NONE marker otherwise: G stays while both ends are present.
        bool globalAfter = (after & PageTableEntry.Global) != 0;
        Assert.Equal(to == Protection.None || global != 0, globalAfter);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Protect_through_an_address_space_keeps_caching_attributes_and_the_global_bit(int level)
    {
        using Machine machine = Create(4 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        ulong size = PageGeometry.LevelSize(level);
        VirtAddr va = V(1UL << 39);
        PhysAddr frames = P(1 * GiB);
        space.Map(va, frames, size, Protection.ReadWrite, level == 1 ? PageSize.Size4K : level == 2 ? PageSize.Size2M : PageSize.Size1G);
        ulong* entry = Entry(machine.Memory, space.Mm, va.Value, level);
        ulong extra = PageTableEntry.WriteThrough | PageTableEntry.CacheDisable | PageTableEntry.Global
            | (level == 1 ? PageTableEntry.Huge : PageTableEntry.HugePat);
        *entry |= extra;

        space.Protect(va, size, Protection.Read);
        Assert.Equal(extra, *entry & extra);
        Assert.Equal(Protection.Read, space.Lookup(va)!.Value.Protection);
        space.Protect(va, size, Protection.ReadExecute);
        Assert.Equal(extra, *entry & extra);
        Assert.Equal(frames.Value, PageTableEntry.LeafAddress(*entry, level));
    }

    private static ulong* Entry(MemoryManager memory, MmStruct mm, ulong va, int level)
    {
        ulong table = mm.RootPa;
        for (int l = mm.RootLevel; ; l--)
        {
            ulong* entry = memory.Physical.TableForWrite(table) + PageGeometry.Index(l, va);
            if (l == level) return entry;
            table = PageTableEntry.TableAddress(*entry);
        }
    }
}
