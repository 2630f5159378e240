// Stack buffers in the walkers are always written before they are read: zeroing them is wasted work on the
// hottest paths.
[module: System.Runtime.CompilerServices.SkipLocalsInit]
