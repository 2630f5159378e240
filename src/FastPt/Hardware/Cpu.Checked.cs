using FastPt.Geometry;
using FastPt.Internals;

namespace FastPt.Hardware;

// Checked mode: every hit and every walk verifies that what it reached was not freed (the free poison in a table,
// the poison flag of a frame's descriptor, which only the memory manager can read: asked through TFrames).
internal sealed unsafe partial class Cpu<TFrames>
{
    /// <summary>Checked mode: the frame a translation reached must not have been freed.</summary>
    private void VerifyFrame(ulong v, ulong physPage)
    {
        if (!_frames.IsFreed(physPage >> Paging.PageShift)) return;
        _frames.CountUseAfterFree();
        throw new UseAfterFreeException(
            $"checked mode: context {Number} translated 0x{v:x16} to freed frame 0x{physPage:x} (a TLB entry outlived the free: free before flush?)",
            new VirtAddr(v), new PhysAddr(physPage));
    }

    /// <summary>Checked mode found a freed table on a walk: counts it and builds the report.</summary>
    private UseAfterFreeException UseAfterFree(ulong va, in WalkResult walk)
    {
        _frames.CountUseAfterFree();
        return ThrowHelper.UseAfterFree(va, walk.TablePa, walk.Level, walk.Entry);
    }
}
