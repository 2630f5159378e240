namespace FastPt.Geometry;

/// <summary>The Linux x86-64 virtual memory layout (Documentation/arch/x86/x86_64/mm.rst) for the parts
/// FastPt simulates: the user half, the direct map of all physical memory and the vmemmap.</summary>
internal readonly struct KernelLayout
{
    /// <summary>Size of one page descriptor (struct page) in the vmemmap.</summary>
    public const int DescriptorSize = 64;
    public const int DescriptorShift = 6;

    private KernelLayout(PagingMode mode, ulong pageOffset, ulong vmemmapBase, ulong userTop)
    {
        Mode = mode;
        PageOffset = pageOffset;
        VmemmapBase = vmemmapBase;
        UserTop = userTop;
    }

    public PagingMode Mode { get; }

    /// <summary>Start of the direct mapping of all physical memory (<c>page_offset_base</c>).</summary>
    public ulong PageOffset { get; }

    /// <summary>Start of the virtual memory map (<c>vmemmap_base</c>).</summary>
    public ulong VmemmapBase { get; }

    /// <summary>First address above the user half (exclusive end of user space).</summary>
    public ulong UserTop { get; }

    /// <summary>Largest amount of physical memory the direct map can cover: 64 TiB (4-level) or 32 PiB (5-level).</summary>
    public ulong DirectMapSize => Mode == PagingMode.FiveLevel ? 1UL << 55 : 1UL << 46;

    public static KernelLayout For(PagingMode mode) => mode == PagingMode.FiveLevel
        ? new KernelLayout(mode, 0xff11_0000_0000_0000, 0xffd4_0000_0000_0000, 1UL << 56)
        : new KernelLayout(mode, 0xffff_8880_0000_0000, 0xffff_ea00_0000_0000, 1UL << 47);

    /// <summary>Direct-map virtual address of physical address <paramref name="pa"/> (<c>__va</c>).</summary>
    public ulong DirectMapAddress(ulong pa) => PageOffset + pa;

    /// <summary>Vmemmap virtual address of the descriptor of frame <paramref name="pfn"/> (<c>pfn_to_page</c>).</summary>
    public ulong DescriptorAddress(ulong pfn) => VmemmapBase + (pfn << DescriptorShift);

    /// <summary>The frame whose descriptor lives at vmemmap address <paramref name="va"/> (<c>page_to_pfn</c>).</summary>
    public ulong DescriptorPfn(ulong va) => (va - VmemmapBase) >> DescriptorShift;
}
