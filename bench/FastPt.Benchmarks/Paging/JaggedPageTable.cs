namespace FastPt.Benchmarks.Paging;

/// <summary>The naive managed page table that emulators commonly start with (the design of Ryujinx's
/// <c>PageTable&lt;T&gt;</c>, written anew here): two levels of managed arrays indexed by bits of the virtual page
/// number, leaf arrays allocated the first time a page in their range is mapped, and one page per <see cref="Map"/>
/// call. Pages are 4 KiB, or 2 MiB when the benchmark compares with 2 MiB leaves (a fair baseline holds the same
/// leaves). It stores the physical page address; zero means "not mapped".</summary>
internal sealed class JaggedPageTable
{
    private readonly int _pageBits;
    private readonly ulong _pageOffsetMask;

    /// <summary>Pages per leaf array: 2^14 entries of 8 bytes (128 KiB; 64 MiB of address space each with 4 KiB
    /// pages).</summary>
    private const int LeafBits = 14;
    private const ulong LeafIndexMask = (1UL << LeafBits) - 1;

    private readonly ulong[]?[] _directory;

    /// <summary>A table for an address space of 2^<paramref name="addressBits"/> bytes and pages of
    /// 2^<paramref name="pageBits"/> bytes.</summary>
    public JaggedPageTable(int addressBits, int pageBits = 12)
    {
        _pageBits = pageBits;
        _pageOffsetMask = (1UL << pageBits) - 1;
        int directoryBits = addressBits - _pageBits - LeafBits;
        if (directoryBits is < 1 or > 24)
            throw new System.ArgumentOutOfRangeException(nameof(addressBits), "the directory would be empty or too large");
        _directory = new ulong[]?[1 << directoryBits];
    }

    /// <summary>Maps the page holding <paramref name="va"/> onto the frame at <paramref name="pa"/>.</summary>
    public void Map(ulong va, ulong pa)
    {
        ulong page = va >> _pageBits;
        ref ulong[]? leaf = ref _directory[page >> LeafBits];
        leaf ??= new ulong[1 << LeafBits];
        leaf[page & LeafIndexMask] = pa & ~_pageOffsetMask;
    }

    /// <summary>Unmaps the page holding <paramref name="va"/>; the leaf array stays allocated.</summary>
    public void Unmap(ulong va)
    {
        ulong page = va >> _pageBits;
        ulong[]? leaf = _directory[page >> LeafBits];
        if (leaf is not null) leaf[page & LeafIndexMask] = 0;
    }

    /// <summary>The physical page address mapped at <paramref name="va"/>, or zero.</summary>
    public ulong Read(ulong va)
    {
        ulong page = va >> _pageBits;
        ulong[]? leaf = _directory[page >> LeafBits];
        return leaf is null ? 0 : leaf[page & LeafIndexMask];
    }

    /// <summary>The physical address of <paramref name="va"/> (the page address plus the offset), or zero.</summary>
    public ulong Translate(ulong va)
    {
        ulong page = Read(va);
        return page == 0 ? 0 : page | (va & _pageOffsetMask);
    }
}
