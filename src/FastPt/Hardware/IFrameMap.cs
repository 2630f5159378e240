namespace FastPt.Hardware;

/// <summary>The questions about a physical frame a CPU must ask and only the memory manager can answer: is there
/// memory behind it (the sparse model's present subsections), and, in checked mode, was it freed (its descriptor's
/// poison flag). Implemented by a struct in Mm and passed as a type argument, so the JIT specialises the CPU for it
/// and inlines the presence test on the refill path: the inverted dependency costs nothing.</summary>
internal interface IFrameMap
{
    /// <summary>True when frame <paramref name="pfn"/> is present memory.</summary>
    bool IsPresent(ulong pfn);

    /// <summary>Checked mode: true when frame <paramref name="pfn"/> has a descriptor that marks it freed.</summary>
    bool IsFreed(ulong pfn);

    /// <summary>Counts one use after free the CPU caught (<c>vmstat</c>), before it throws.</summary>
    void CountUseAfterFree();
}
