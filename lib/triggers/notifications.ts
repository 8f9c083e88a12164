import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, QueueConfiguration, S3Client } from '@aws-sdk/client-s3';

/**
 * Bucket notifications through the S3 API: object-created events under a prefix go to a queue ARN.
 * On MinIO the ARN names a notification target configured on the server (for the webhook target
 * `MINIO_NOTIFY_WEBHOOK_*_<ID>`: `arn:minio:sqs::<ID>:webhook`); on AWS it is an SQS queue.
 * Idempotent: our rule (by Id) is replaced, other rules of the bucket are kept.
 */
export const WEBHOOK_TARGET_ID = 'PDM';
export const webhookQueueArn = (targetId = WEBHOOK_TARGET_ID) => `arn:minio:sqs::${targetId}:webhook`;
export const NOTIFICATION_RULE_ID = 'pdm-data-arrival';
export const DEFAULT_NOTIFY_PREFIX = 'recordings/';

const prefixOf = (q: QueueConfiguration) => q.Filter?.Key?.FilterRules?.find((r) => r.Name?.toLowerCase() === 'prefix')?.Value ?? '';

export async function configureBucketNotifications(s3: S3Client, bucket: string, opts: { queueArn?: string; prefix?: string; ruleId?: string } = {}): Promise<void> {
  const ruleId = opts.ruleId ?? NOTIFICATION_RULE_ID;
  const current = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  const ours: QueueConfiguration = {
    Id: ruleId,
    QueueArn: opts.queueArn ?? webhookQueueArn(),
    Events: ['s3:ObjectCreated:*'],
    Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: opts.prefix ?? DEFAULT_NOTIFY_PREFIX }] } },
  };
  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [...(current.QueueConfigurations ?? []).filter((q) => q.Id !== ruleId && !(q.QueueArn === ours.QueueArn && prefixOf(q) === prefixOf(ours))), ours],
        TopicConfigurations: current.TopicConfigurations,
        LambdaFunctionConfigurations: current.LambdaFunctionConfigurations,
      },
    }),
  );
}
