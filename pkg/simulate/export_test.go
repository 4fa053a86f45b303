package simulate

// SetPartitionFault makes f run before each partition is read (nil: none).
func SetPartitionFault(f func(p int32)) { partitionFault = f }
