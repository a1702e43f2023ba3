"""Networks (plain nn.Modules from torchvision parts) and the LightningModule that trains them."""
