namespace FastPt;

/// <summary>A run of consecutive leaves of one size and protection mapping consecutive physical memory, as
/// <see cref="AddressSpace.Dump"/> reports them.</summary>
/// <param name="Start">First virtual address.</param>
/// <param name="Length">Bytes covered.</param>
/// <param name="Physical">First physical address.</param>
/// <param name="PageSize">Size of each leaf.</param>
/// <param name="Protection">Rights of each leaf.</param>
/// <param name="Pages">Number of leaves.</param>
public readonly record struct MappingRun(VirtAddr Start, ulong Length, PhysAddr Physical, PageSize PageSize, Protection Protection, long Pages)
{
    /// <summary>Readable form.</summary>
    public override string ToString() =>
        $"{Start}-{Start + Length} -> {Physical} {Pages} x {PageSize.ShortName()} {Protection}";
}
