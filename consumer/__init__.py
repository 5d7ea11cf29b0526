"""Consumer stage: reads image announcements from Kafka, runs YOLO object detection
on OpenCV DNN and writes one JSON metadata record per image to S3."""
